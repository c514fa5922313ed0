#!/usr/bin/env bash
# System packages the tests need, installed by the repo itself (CI runs as root on Debian).
# Idempotent and fast when everything is there: apt-get runs only for what is missing.
#   postgresql  the ledger tests start a private server (initdb + pg_ctl on a Unix socket)
#   softhsm2    the PKCS#11 signer tests initialise their own SoftHSM2 token
set -euo pipefail
PACKAGES=(
    postgresql
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
    echo ".ci/deps.sh: missing ${missing[*]}; run as root (apt-get) or install them" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No PostgreSQL cluster is created or started: the tests run their own server.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/no-main.conf
apt-get install -y -qq --no-install-recommends "${missing[@]}"
