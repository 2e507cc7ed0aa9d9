#!/usr/bin/env bash
# Runs every check and test of userimages. Installs what the tests need
# (Debian packages) when missing; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v chromium >/dev/null || need_apt+=(chromium)  # e2e/browser_test.go drives it
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)  # e2e/theme_test.go runs it in front of the binary
command -v systemd-analyze >/dev/null || need_apt+=(systemd)  # e2e/systemd_test.go verifies deploy/userimages.service
command -v varnishd >/dev/null || [ -x /usr/sbin/varnishd ] || need_apt+=(varnish)  # e2e/varnish_test.go runs it in front of the binary
ls /usr/lib/*/varnish/vmods/libvmod_xkey.so >/dev/null 2>&1 || need_apt+=(varnish-modules)  # its xkey purges by Surrogate-Key
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    echo "scripts/test.sh: please install: ${need_apt[*]}" >&2
    exit 1
  fi
fi

# The S3 server the scale-out tests run against (s3store/s3test starts it on
# a loopback port). Pinned; the first install takes about two minutes.
VERSITYGW_VERSION=v1.8.0
if ! command -v versitygw >/dev/null && [ ! -x "$(go env GOPATH)/bin/versitygw" ]; then
  echo "== installing versitygw $VERSITYGW_VERSION"
  go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi

# Let's Encrypt's test CA, which the HTTPS tests (e2e/https_test.go) get
# certificates from on loopback (internal/testkit/pebbletest starts it), and its DNS
# server, for the tests that have challenges really validated; its test
# certificates are read from the module this leaves in the module cache.
PEBBLE_VERSION=v2.10.3
for cmd in pebble pebble-challtestsrv; do
  if ! command -v "$cmd" >/dev/null && [ ! -x "$(go env GOPATH)/bin/$cmd" ]; then
    echo "== installing $cmd $PEBBLE_VERSION"
    go install "github.com/letsencrypt/pebble/v2/cmd/$cmd@$PEBBLE_VERSION"
  fi
done

# axe-core, the accessibility checker the browser tests run in each page
# (e2e/page_test.go), from the npm registry; pinned.
AXE_VERSION=4.14.1
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/userimages/axe-core-$AXE_VERSION"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  command -v npm >/dev/null || { echo "scripts/test.sh: please install npm (Node.js)" >&2; exit 1; }
  echo "== installing axe-core $AXE_VERSION"
  mkdir -p "$axe_dir"
  npm install --prefix "$axe_dir" --no-audit --no-fund --silent "axe-core@$AXE_VERSION"
fi
export USERIMAGES_TEST_AXE="$axe_dir/node_modules/axe-core/axe.min.js"

# Uppy, the uploader many host apps use, whose real browser bundles the Uppy
# tests (e2e/uppy_test.go) run in Chromium: 6.x (AwsS3 with signRequest) and
# the newest 5.x (AwsS3 with getUploadParameters), from the npm registry;
# pinned.
for UPPY_VERSION in 6.0.1 5.2.4; do
  uppy_dir="${XDG_CACHE_HOME:-$HOME/.cache}/userimages/uppy-$UPPY_VERSION"
  if [ ! -f "$uppy_dir/node_modules/uppy/dist/uppy.min.js" ]; then
    command -v npm >/dev/null || { echo "scripts/test.sh: please install npm (Node.js)" >&2; exit 1; }
    echo "== installing uppy $UPPY_VERSION"
    mkdir -p "$uppy_dir"
    npm install --prefix "$uppy_dir" --no-audit --no-fund --silent "uppy@$UPPY_VERSION"
  fi
  export "USERIMAGES_TEST_UPPY${UPPY_VERSION%%.*}=$uppy_dir/node_modules/uppy/dist/uppy.min.js"
done

# Services the tests use, from the environment; these defaults are where the
# development machines and CI run them.
export USERIMAGES_TEST_REDIS_URL="${USERIMAGES_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
export USERIMAGES_TEST_POSTGRES_URL="${USERIMAGES_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"

echo "== gofmt"
unformatted=$(gofmt -l .)  # client/ included
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
# The client is its own module (client/go.mod); the main module requires it
# through a replace, so its packages are named by their module path here.
client=github.com/userimages/userimages/client/...
echo "== go vet"
go vet ./... "$client"
echo "== staticcheck (pinned in go.mod)"
go tool staticcheck ./... "$client"
echo "== go test"
# e2e alone takes 5-6 minutes on a quiet machine: past go test's default 10 min
# limit on a loaded one, so the limit is raised.
go test -race -count=1 -timeout 40m ./... "$client"
echo "== fuzz (each target briefly; seed corpora also run in go test above)"
# Budgets are execution counts, not durations: Go 1.26's coordinator can fail a
# target with a bare "context deadline exceeded" when a -fuzztime duration ends
# (go.dev/issue/75804, fixed in Go 1.27). A count has no deadline to race.
# Each count is about 5-8 s on 2 cores; FUZZSCALE multiplies them. The
# minimization of each new input found is bounded by a count too (the
# default is up to 60 s an input).
for target in selfsign:FuzzVerify:100000 httpapi:FuzzDecode:4000 imagesafe:FuzzInspect:100000 imagesafe:FuzzServedDecodes:20000 internal/jpegscale:FuzzDecodeScaled:30000 pdq:FuzzFile:3000; do
  IFS=: read -r pkg name count <<<"$target"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$((count * ${FUZZSCALE:-1}))x" -fuzzminimizetime 500x "./${pkg}"
done
