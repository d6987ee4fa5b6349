#!/usr/bin/env bash
# Installs what Highway's tests need on a fresh Debian machine: Debian
# packages through apt-get (as root; curl for the end-to-end tests, chromium
# for the dashboard's browser test, redis-server and nginx for the replicas'
# tests) and Go modules through the module proxy.
set -euo pipefail

# command -> Debian package
declare -A need=([curl]=curl [chromium]=chromium [redis-server]=redis-server [nginx]=nginx)

missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v go >/dev/null || { echo "deps: Go is not on PATH (expected /usr/local/go/bin)" >&2; exit 1; }
go mod download
