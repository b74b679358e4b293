#!/usr/bin/env bash
# One-time set-up of a fresh machine (Debian, as root or with sudo): system tools (kcat, chromium, Java, Maven),
# npm dependencies and the Kafka broker jars (cached under ~/.cache/isokafka). Safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -t 0 ] || exec </dev/null
export DEBIAN_FRONTEND=noninteractive

log() { printf '\n== %s\n' "$*" >&2; }

# --- system packages: kcat (test reader), chromium (browser tests), Java 17 + Maven (Kafka broker) -----------------
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for pkg in kcat chromium; do installed "$pkg" || missing+=("$pkg"); done
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
  log "system packages present (kcat, chromium, java, mvn)"
fi
if [ -z "${CHROME_BIN:-}" ] && command -v chromium >/dev/null 2>&1; then export CHROME_BIN="$(command -v chromium)"; fi
java -version 2>&1 | head -1 >&2
kcat -V 2>&1 | grep -i 'version' | head -1 >&2 || true

# --- npm dependencies ---------------------------------------------------------------------------------------------
log "npm ci"
npm ci --no-audit --no-fund
# npm 11 may skip esbuild's postinstall ("npm warn install-scripts"). esbuild's JS API still finds its native
# binary through the @esbuild/<platform> optional dependency, so this normally passes; if not, run the postinstall.
esbuild_ok() { node -e "require('esbuild').transformSync('let a: number = 1', { loader: 'ts' })" >/dev/null 2>&1; }
if ! esbuild_ok; then
  log "esbuild not usable after npm ci: running its install script"
  node node_modules/esbuild/install.js
  esbuild_ok || { echo "esbuild still does not work" >&2; exit 1; }
fi

# --- Kafka jars (cached under ${XDG_CACHE_HOME:-~/.cache}/isokafka) -------------------------------------------------
log "Kafka jars"
node scripts/kafka.mjs fetch

