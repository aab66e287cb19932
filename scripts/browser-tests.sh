#!/usr/bin/env bash
# End-to-end tests of the Archive web page in a real browser: installs
# Debian's Chromium and the npm packages when missing, builds and starts the
# whole suite (embedded mode, a fresh data directory, ephemeral ports unless
# ARCHIVE_BASE_PORT is set), runs `node --test` in browser-tests/tests against
# it; then a second suite with its recordings on moto (S3) and playback
# redirected to the store, for browser-tests/s3; then a third signing in with
# the stand-in identity provider, for browser-tests/oidc; stops what it started.
# Fails on any failed test, and when no test ran.
#
#   scripts/browser-tests.sh                      # run every test
#   ARCHIVE_UPDATE_SCREENSHOTS=1 scripts/browser-tests.sh   # also refresh docs/screenshot-*.png
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '== browser tests: %s\n' "$*"; }

if [ ! -x /usr/bin/chromium ]; then
    say "installing Debian's chromium"
    if [ "$(id -u)" -ne 0 ]; then
        echo "chromium is missing and this is not root: run 'apt-get install chromium' first" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null || true

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node and npm are needed to run the browser tests" >&2
    exit 1
fi
if [ ! -f browser-tests/node_modules/playwright-core/package.json ]; then
    say "npm ci (playwright-core only: it downloads no browser)"
    (cd browser-tests && npm ci --no-audit --no-fund)
fi

say "building the gateway"
locked=()
if [ "${CI:-}" = "true" ]; then locked=(--locked); fi
cargo build -p gateway "${locked[@]}"
target_dir=${CARGO_TARGET_DIR:-$repo/target}

work=$(mktemp -d)
suite_pids=()
moto_pid=""
stop_all() {
    local pid
    for pid in "${suite_pids[@]}" $moto_pid; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$work"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# start_suite NAME [gateway arguments…]: starts a suite with its data in
# $work/NAME and sets $url once its Archive page answers.
start_suite() {
    local name=$1 pid
    shift
    mkdir -p "$work/$name"
    "$target_dir/debug/gateway" --data-dir "$work/$name/data" "$@" \
        >"$work/$name/stdout.log" 2>"$work/$name/stderr.log" &
    pid=$!
    suite_pids+=("$pid")
    # The banner names the web address once every service is up and seeded.
    url=""
    for _ in $(seq 240); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "the suite ($name) stopped while starting:" >&2
            cat "$work/$name/stdout.log" "$work/$name/stderr.log" >&2
            exit 1
        fi
        url=$(sed -n 's|^ *web *\(http://[0-9.:]*/\) .*|\1|p' "$work/$name/stdout.log" | head -n 1)
        if [ -n "$url" ] && curl -fsS -o /dev/null "$url"; then break; fi
        url=""
        sleep 0.5
    done
    if [ -z "$url" ]; then
        echo "the Archive page ($name) did not answer within 120 s:" >&2
        cat "$work/$name/stdout.log" "$work/$name/stderr.log" >&2
        exit 1
    fi
    say "the Archive page ($name) answers at $url"
}

# run_tests NAME PATH…: node --test against the suite at $url; fails on a
# failed test and when no test ran.
total_passed=0
run_tests() {
    local name=$1 status ran passed failed
    shift
    say "node --test ($name)"
    set +e
    (cd browser-tests && ARCHIVE_URL="${url%/}" node --test --test-reporter=tap --test-concurrency=1 --test-timeout=180000 "$@") | tee "$work/$name/tap.txt"
    status=${PIPESTATUS[0]}
    set -e
    ran=$(sed -n 's/^# tests \([0-9]*\)$/\1/p' "$work/$name/tap.txt" | tail -n 1)
    passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$work/$name/tap.txt" | tail -n 1)
    failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$work/$name/tap.txt" | tail -n 1)
    if [ "$status" -ne 0 ] || [ "${failed:-1}" != "0" ]; then
        say "FAILED ($name: exit $status, ${failed:-?} failed); the suite's log:"
        tail -n 60 "$work/$name/stderr.log" >&2
        exit 1
    fi
    if [ -z "$ran" ] || [ "$ran" -eq 0 ] || [ "${passed:-0}" -eq 0 ]; then
        say "FAILED: no browser test ran ($name)"
        exit 1
    fi
    total_passed=$((total_passed + passed))
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

base_port=${ARCHIVE_BASE_PORT:-0}
say "starting the suite (base port $base_port)"
start_suite embedded --base-port "$base_port"
run_tests embedded tests/

# Playback redirected to an S3 store: a second suite with its recordings in
# moto and MEDIA_S3_PLAYBACK=redirect, the browser fetching the audio from
# the store itself. Needs moto_server (.ci/run installs it; CI requires it).
if command -v moto_server >/dev/null 2>&1; then
    s3_port=$(free_port)
    moto_server -H 127.0.0.1 -p "$s3_port" >"$work/moto.log" 2>&1 &
    moto_pid=$!
    for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$s3_port/" 2>/dev/null && break; sleep 0.1; done
    curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$s3_port/archive-recordings"
    say "starting a suite on S3 (moto on 127.0.0.1:$s3_port), playback redirected"
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    export ARCHIVE_S3_ENDPOINT="http://127.0.0.1:$s3_port"
    start_suite s3-redirect --base-port 0 \
        --media-store s3 --s3-bucket archive-recordings --s3-endpoint "http://127.0.0.1:$s3_port" \
        --s3-path-style --s3-allow-http --s3-playback redirect
    run_tests s3-redirect s3/
elif [ "${CI:-}" = "true" ]; then
    say "FAILED: moto_server is missing, the S3 redirect browser test cannot run"
    exit 1
else
    say "S3 redirect browser test SKIPPED: no moto_server (pip install 'moto[server]')"
fi
# Sign-in with an identity provider: a third suite whose page signs in
# through the stand-in provider of test-support (no network needed), at
# localhost: another site than the page at 127.0.0.1, as a real provider is.
say "starting the stand-in identity provider and a suite signing in with it"
cargo build -p test-support --bin oidc-stand-in "${locked[@]}"
mkdir -p "$work/oidc"
"$target_dir/debug/oidc-stand-in" archive-web >"$work/oidc-idp.log" 2>&1 &
suite_pids+=("$!")
issuer=""
for _ in $(seq 100); do
    issuer=$(sed -n 's|^issuer \(http://[a-z0-9.:]*\)$|\1|p' "$work/oidc-idp.log" | head -n 1)
    [ -n "$issuer" ] && break
    sleep 0.1
done
if [ -z "$issuer" ]; then
    echo "the stand-in identity provider did not start:" >&2
    cat "$work/oidc-idp.log" >&2
    exit 1
fi
start_suite oidc --base-port 0 --oidc-issuer "$issuer" --oidc-client-id archive-web \
    --oidc-provider-name "Stand-in IdP"
ARCHIVE_OIDC_ISSUER="$issuer" run_tests oidc oidc/
echo "browser-tests: $total_passed passed, 0 failed"
