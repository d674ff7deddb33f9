#!/usr/bin/env bash
set -euo pipefail

SOURCE_DIR="${1:?usage: backup.sh SOURCE DEST}"
DEST_DIR="${2:?usage: backup.sh SOURCE DEST}"
STAMP="$(date +%Y%m%d-%H%M%S)"
ARCHIVE="$DEST_DIR/backup-$STAMP.tar.gz"

mkdir -p "$DEST_DIR"
tar -czf "$ARCHIVE" -C "$SOURCE_DIR" .
echo "wrote $ARCHIVE"

# keep only the seven newest archives
ls -1t "$DEST_DIR"/backup-*.tar.gz | tail -n +8 | xargs -r rm --
du -sh "$
