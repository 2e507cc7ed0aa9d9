#!/usr/bin/env bash
# The load harness (BENCHMARKS.md, "Load harness"): installs the peers when
# missing (nginx from Debian, versitygw with go install), builds userimages
# and cmd/loadbench, runs every scenario against real processes on
# loopback, and prints the tables. About 6-8 minutes on 2 cores.
#
#   bash scripts/bench.sh                 # everything, results in /tmp/userimages-bench/
#   D=3s SCALE=1000,100000 bash scripts/bench.sh   # a quick run
#   PROFILE=0 bash scripts/bench.sh       # skip the CPU profiles
#
# Environment: D (duration of each measured run, default 10s), C (clients,
# default 32), ROUNDS (alternating rounds of create, get and variant-get
# against their peers, default 3), SCALE (images stored for the scale scenario, default
# 1000,1000000), SCENARIOS (default all), OUT (default /tmp/userimages-bench).
set -euo pipefail
cd "$(dirname "$0")/.."

D="${D:-10s}"
C="${C:-32}"
ROUNDS="${ROUNDS:-3}"
SCALE="${SCALE:-1000,1000000}"
SCENARIOS="${SCENARIOS:-create,get,put,flow,put256,scale,variant-get,variant-cold}"
OUT="${OUT:-${TMPDIR:-/tmp}/userimages-bench}"
VERSITYGW_VERSION=v1.8.0

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq nginx
  else
    echo "scripts/bench.sh: please install nginx (Debian package)" >&2
    exit 1
  fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# libvips' vipsthumbnail, the peer of variant-cold (Debian's libvips-tools).
if ! command -v vipsthumbnail >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq libvips-tools
  else
    echo "scripts/bench.sh: please install libvips-tools (Debian package)" >&2
    exit 1
  fi
fi

GOBIN_DIR="$(go env GOPATH)/bin"
VERSITYGW=$(command -v versitygw || echo "$GOBIN_DIR/versitygw")
if [ ! -x "$VERSITYGW" ]; then
  echo "== go install versitygw@$VERSITYGW_VERSION"
  GOFLAGS= go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  VERSITYGW="$GOBIN_DIR/versitygw"
fi

mkdir -p "$OUT"
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
echo "== build"
go build -o "$BIN/userimages" ./cmd/userimages
go build -o "$BIN/loadbench" ./cmd/loadbench

echo "== run (nproc $(nproc), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
"$BIN/loadbench" run -bin "$BIN/userimages" -nginx "$NGINX" -versitygw "$VERSITYGW" \
  -vips "$(command -v vipsthumbnail)" -scenarios "$SCENARIOS" -c "$C" -d "$D" -rounds "$ROUNDS" -scale-sizes "$SCALE" -json "$OUT/results.json" | tee "$OUT/results.md"

if [ "${PROFILE:-1}" != 0 ]; then
  # Our server run with `serve --cpuprofile`; the numbers of this second run
  # are not the results.
  echo "== CPU profiles of our server (create, get, put, flow, variant-get, variant-cold)"
  "$BIN/loadbench" run -bin "$BIN/userimages" -nginx "$NGINX" -versitygw "$VERSITYGW" \
    -scenarios create,get,put,flow,variant-get,variant-cold -peers=false -rounds 1 -c "$C" -d 5s -profile "$OUT/profiles" >"$OUT/profiled-run.md"
  for s in create get put flow variant-get variant-cold; do
    echo "-- $s: top by own CPU (flat), then by cumulative CPU"
    go tool pprof -top -nodecount 25 "$BIN/userimages" "$OUT/profiles/cpu-$s.pprof" 2>/dev/null \
      | tee "$OUT/profiles/top-$s.txt" | sed -n '4,5p;7,30p'
    go tool pprof -top -cum -nodecount 60 "$BIN/userimages" "$OUT/profiles/cpu-$s.pprof" 2>/dev/null \
      > "$OUT/profiles/top-cum-$s.txt"
    grep -E 'userimages/|modernc|database/sql|encoding/json|crypto|log/slog|image/|wazero' "$OUT/profiles/top-cum-$s.txt" | head -25 || true
  done
fi
echo "== results in $OUT/ (results.md, results.json, profiles/)"
