#!/usr/bin/env bash
# System packages the tests use, installed once (idempotent): one package per line, so
# branches adding packages merge trivially. Needs root and apt-get (Debian/Ubuntu CI).
set -euo pipefail
PACKAGES=(
    softhsm2
)
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "deps.sh: cannot install ${missing[*]} (needs root and apt-get); the tests that need it fail under CI=true" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
