#!/usr/bin/env bash
# System packages the tests need, installed by the repo itself (CI runs as root on Debian).
# Idempotent and fast when everything is there: apt-get runs only for what is missing.
set -euo pipefail

need=()
# PostgreSQL: the ledger tests start a private server (initdb + pg_ctl on a Unix socket).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    need+=(postgresql)
fi
# --- signer branch: add softhsm2 here (SoftHSM2 tokens for the PKCS#11 tests) ---

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo ".ci/deps.sh: missing ${need[*]}; run as root (apt-get) or install them" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No cluster is created or started: the tests run their own server.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/no-main.conf
apt-get install -y -qq --no-install-recommends "${need[@]}"
