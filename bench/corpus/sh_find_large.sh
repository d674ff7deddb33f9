#!/usr/bin/env bash
# list the largest files under a directory
dir="${1:-.}"
limit="${2:-10}"

if [ ! -d "$dir" ]; then
    echo "not a directory: $dir" >&2
    exit 1
fi

find "$dir" -type f -printf '%s\t%p\n' \
    | sort -rn \
    | head -n "$limit" \
    | while IFS=$'\t' read -r size path; do
        printf '%10d  %s\n' "$size" "$
