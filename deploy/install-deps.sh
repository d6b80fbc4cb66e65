#!/bin/sh
# Installs every package cprof needs to build, test and run, from Debian 12's archive.
# Idempotent: when all packages are present it changes nothing and touches no network.
set -eu

PACKAGES="
build-essential pkg-config make
protobuf-c-compiler libprotobuf-c-dev
zlib1g-dev libdeflate-dev librdkafka-dev libpq-dev libcurl4-openssl-dev libpcre2-dev libssl-dev
curl
clang libclang-rt-14-dev
golang-go
postgresql-15 postgresql-client-15
chromium
"

missing=""
for pkg in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing; run as root (or with sudo) to install them" >&2
	exit 1
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
