#!/usr/bin/env bash
# The side-by-side benchmark: Highway against the hand-written Go fan-out,
# the no-fan-out floor and the seed's FastAPI system, in one run. Installs
# what it needs (Debian's wrk and the seed's Python packages; run as root),
# then writes bench/RESULTS.md. About 5 minutes with the defaults.
#   bash bench/run.sh [-duration 10s] [-conns 100,1000] [-only REGEXP] [-surge-users 10000]
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v wrk >/dev/null || need+=(wrk)
/usr/bin/python3 -c 'import fastapi, uvicorn, aiohttp' 2>/dev/null || need+=(python3-fastapi python3-uvicorn python3-aiohttp)
if ((${#need[@]})); then
  [ "$(id -u)" = 0 ] || { echo "bench: needs ${need[*]}; run as root" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
ulimit -n "$(ulimit -Hn)"   # thousands of connections on each side
PEERS=${PEERS:-../shared/peers}
exec go run ./bench -peers "$PEERS" "$@"
