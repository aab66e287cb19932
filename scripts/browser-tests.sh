#!/usr/bin/env bash
# End-to-end tests of the Archive web page in a real browser: installs
# Debian's Chromium and the npm packages when missing, builds and starts the
# whole suite (embedded mode, a fresh data directory, ephemeral ports unless
# ARCHIVE_BASE_PORT is set), runs `node --test` in browser-tests/ against it,
# and stops the suite. Fails on any failed test, and when no test ran.
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
suite_pid=""
stop_suite() {
    if [ -n "$suite_pid" ] && kill -0 "$suite_pid" 2>/dev/null; then
        kill -TERM "$suite_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$suite_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$suite_pid" 2>/dev/null || true
        wait "$suite_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop_suite EXIT
trap 'exit 130' INT TERM

base_port=${ARCHIVE_BASE_PORT:-0}
say "starting the suite (base port $base_port, data in $work/data)"
"$target_dir/debug/gateway" --data-dir "$work/data" --base-port "$base_port" >"$work/stdout.log" 2>"$work/stderr.log" &
suite_pid=$!

# The banner names the web address once every service is up and seeded.
url=""
for _ in $(seq 240); do
    if ! kill -0 "$suite_pid" 2>/dev/null; then
        echo "the suite stopped while starting:" >&2
        cat "$work/stdout.log" "$work/stderr.log" >&2
        exit 1
    fi
    url=$(sed -n 's|^ *web *\(http://[0-9.:]*/\) .*|\1|p' "$work/stdout.log" | head -n 1)
    if [ -n "$url" ] && curl -fsS -o /dev/null "$url"; then break; fi
    url=""
    sleep 0.5
done
if [ -z "$url" ]; then
    echo "the Archive page did not answer within 120 s:" >&2
    cat "$work/stdout.log" "$work/stderr.log" >&2
    exit 1
fi
say "the Archive page answers at $url"

say "node --test"
set +e
(cd browser-tests && ARCHIVE_URL="${url%/}" node --test --test-reporter=tap --test-concurrency=1 --test-timeout=180000 tests/) | tee "$work/tap.txt"
status=${PIPESTATUS[0]}
set -e

ran=$(sed -n 's/^# tests \([0-9]*\)$/\1/p' "$work/tap.txt" | tail -n 1)
passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$work/tap.txt" | tail -n 1)
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$work/tap.txt" | tail -n 1)
if [ "$status" -ne 0 ] || [ "${failed:-1}" != "0" ]; then
    say "FAILED (exit $status, ${failed:-?} failed); the suite's log:"
    tail -n 60 "$work/stderr.log" >&2
    exit 1
fi
if [ -z "$ran" ] || [ "$ran" -eq 0 ] || [ "${passed:-0}" -eq 0 ]; then
    say "FAILED: no browser test ran"
    exit 1
fi
echo "browser-tests: $passed passed, 0 failed"
