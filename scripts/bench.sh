#!/usr/bin/env bash
# The load harness (BENCHMARKS.md, "Load harness"): installs the peers when
# missing (nginx from Debian, versitygw with go install), builds userimages
# and cmd/loadbench, runs every scenario against real processes on
# loopback, and prints the tables. About 6-8 minutes on 2 cores.
#
#   bash scripts/bench.sh                 # everything, results in /tmp/userimages-bench/
#   D=3s SCALE=1000,100000 bash scripts/bench.sh   # a quick run
#   PROFILE=0 bash scripts/bench.sh       # skip the CPU profiles
#   SCENARIOS=variant-cold BEFORE=3848462 bash scripts/bench.sh  # also profile that commit's server
#
# Environment: D (duration of each measured run, default 10s), C (clients,
# default 32), ROUNDS (alternating rounds of create, get, variant-get and
# variant-cold against their peers, default 3), BEFORE (a commit whose
# server is profiled too, into profiles-before/), SCALE (images stored for the scale scenario, default
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

# Our server run with `serve --cpuprofile`, on the profiled scenarios that
# were asked for; the numbers of this second run are not the results.
PROFILED=$(echo "$SCENARIOS" | tr , '\n' | { grep -xE 'create|get|put|flow|variant-get|variant-cold' || true; } | paste -sd, -)
if [ "${PROFILE:-1}" != 0 ] && [ -n "$PROFILED" ]; then
  if [ -n "${BEFORE:-}" ]; then
    # The same profiles of the server at commit $BEFORE.
    git worktree add -q --detach "$BIN/before-src" "$BEFORE"
    (cd "$BIN/before-src" && go build -o "$BIN/userimages-before" ./cmd/userimages)
    git worktree remove --force "$BIN/before-src"
  fi
  for v in "" ${BEFORE:+-before}; do
    echo "== CPU profiles of our server$v ($PROFILED)"
    P="$OUT/profiles$v"
    "$BIN/loadbench" run -bin "$BIN/userimages$v" -nginx "$NGINX" -versitygw "$VERSITYGW" \
      -scenarios "$PROFILED" -peers=false -rounds 1 -c "$C" -d 5s -profile "$P" >"$OUT/profiled-run$v.md"
    for s in ${PROFILED//,/ }; do
      echo "-- $s: top by own CPU (flat), then by cumulative CPU"
      go tool pprof -top -nodecount 25 "$BIN/userimages$v" "$P/cpu-$s.pprof" 2>/dev/null \
        | tee "$P/top-$s.txt" | sed -n '4,5p;7,30p'
      go tool pprof -top -cum -nodecount 60 "$BIN/userimages$v" "$P/cpu-$s.pprof" 2>/dev/null \
        > "$P/top-cum-$s.txt"
      grep -E 'userimages/|modernc|database/sql|encoding/json|crypto|log/slog|image/|wazero' "$P/top-cum-$s.txt" | head -25 || true
      if [ "$s" = variant-cold ]; then
        # The server's profile also holds the uploads and their hashing:
        # variant.Render alone and the WebP encoder's WebAssembly (runtime._ExternalCode,
        # whose samples have no Go stack), top by own CPU.
        go tool pprof -top -focus 'variant\.Render|_ExternalCode' -nodecount 25 "$BIN/userimages$v" "$P/cpu-$s.pprof" 2>/dev/null \
          | tee "$P/top-render-$s.txt" | sed -n '4,5p;7,30p'
      fi
    done
  done
fi
echo "== results in $OUT/ (results.md, results.json, profiles/)"
