#!/usr/bin/env bash
# media-svc HTTP playback benchmark, in one run on loopback:
#   media-svc (fs store) vs nginx serving the same files, and
#   media-svc (S3 store on moto) vs a direct S3 GET from the same moto, with
#   playback relayed by media-svc and redirected to the store (two media-svc
#   processes on one bucket).
# Installs nginx and moto if missing, builds media-svc in release, starts
# every server as its own process on free 127.0.0.1 ports (nginx with a
# generated config, not the system service), runs the load generator
# (`cargo bench -p media-svc --bench playback`) and stops what it started.
#
#   media-svc/bench/run.sh [--files 200] [--seconds 6] [--clients 1,16,128] [--min-mb 1] [--max-mb 5]
#                          [--requests whole,range]
#
# The report (Markdown) is printed and kept in target/media-bench/report.md.
# KEEP=1 keeps the working directory (data set, logs). CARGO_TARGET_DIR is
# honoured (e.g. a release target dir apart from the shared debug one).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
command_line="media-svc/bench/run.sh${*:+ $*}"

say() { printf '== %s\n' "$*" >&2; }

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    say "installing nginx"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! command -v moto_server >/dev/null 2>&1; then
    say "installing moto[server]"
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi

say "building media-svc (release) and the load generator"
cargo build --release -p media-svc -p gateway
cargo bench -p media-svc --bench playback --no-run
media_svc_bin="${CARGO_TARGET_DIR:-target}/release/media-svc"
gateway_bin="${CARGO_TARGET_DIR:-target}/release/gateway"

work=$(mktemp -d /tmp/media-bench.XXXXXX)
chmod 755 "$work" # nginx's workers run as an unprivileged user
mkdir -p "$work/nginx-root/media" "$work/nginx/tmp" "$work/media-fs" "$root/target/media-bench"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # bounded: 30 s
    local i
    for i in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    say "nothing listens on 127.0.0.1:$1 ($2)"
    tail -n 20 "$work"/*.log >&2 || true
    return 1
}

s3_port=$(free_port); nginx_port=$(free_port)
fs_grpc=$(free_port); fs_http=$(free_port); s3_grpc=$(free_port); s3_http=$(free_port)
fs_metrics=$(free_port); s3_metrics=$(free_port)
redirect_grpc=$(free_port); redirect_http=$(free_port); redirect_metrics=$(free_port)
stream_grpc=$(free_port); stream_http=$(free_port); stream_metrics=$(free_port)
# The suite's keys: each media-svc serves with media-svc's own, the load
# generator issues itself a platform credential and signs users as the gateway.
"$gateway_bin" credentials init --keys-dir "$work/keys" >/dev/null
export ARCHIVE_KEYS_DIR="$work/keys" ARCHIVE_PLAYBACK_KEY="bench playback key"
export ARCHIVE_IDENTITY_KEY_FILE="$work/keys/media-svc.pem" ARCHIVE_TRUST_FILE="$work/keys/trust.json"
bucket=media-bench

say "starting moto on 127.0.0.1:$s3_port"
moto_server -H 127.0.0.1 -p "$s3_port" >"$work/moto.log" 2>&1 &
moto_pid=$!; pids+=($moto_pid)

say "starting media-svc (fs) and media-svc (S3)"
RUST_LOG=warn MEDIA_STORE=fs MEDIA_ROOT="$work/media-fs" \
    MEDIA_LISTEN="127.0.0.1:$fs_grpc" MEDIA_HTTP_LISTEN="127.0.0.1:$fs_http" METRICS_LISTEN="127.0.0.1:$fs_metrics" \
    "$media_svc_bin" >"$work/media-fs.log" 2>&1 &
fs_pid=$!; pids+=($fs_pid)
RUST_LOG=warn MEDIA_STORE=s3 MEDIA_S3_BUCKET=$bucket MEDIA_S3_ENDPOINT="http://127.0.0.1:$s3_port" \
    MEDIA_S3_PATH_STYLE=true MEDIA_S3_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    MEDIA_LISTEN="127.0.0.1:$s3_grpc" MEDIA_HTTP_LISTEN="127.0.0.1:$s3_http" METRICS_LISTEN="127.0.0.1:$s3_metrics" \
    "$media_svc_bin" >"$work/media-s3.log" 2>&1 &
s3_pid=$!; pids+=($s3_pid)
# The same bucket, playback redirected to the store (MEDIA_S3_PLAYBACK=redirect).
RUST_LOG=warn MEDIA_STORE=s3 MEDIA_S3_BUCKET=$bucket MEDIA_S3_ENDPOINT="http://127.0.0.1:$s3_port" \
    MEDIA_S3_PATH_STYLE=true MEDIA_S3_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    MEDIA_S3_PLAYBACK=redirect \
    MEDIA_LISTEN="127.0.0.1:$redirect_grpc" MEDIA_HTTP_LISTEN="127.0.0.1:$redirect_http" METRICS_LISTEN="127.0.0.1:$redirect_metrics" \
    "$media_svc_bin" >"$work/media-s3-redirect.log" 2>&1 &
redirect_pid=$!; pids+=($redirect_pid)
# The same bucket, playback streamed through object_store (MEDIA_S3_PLAYBACK=stream).
RUST_LOG=warn MEDIA_STORE=s3 MEDIA_S3_BUCKET=$bucket MEDIA_S3_ENDPOINT="http://127.0.0.1:$s3_port" \
    MEDIA_S3_PATH_STYLE=true MEDIA_S3_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    MEDIA_S3_PLAYBACK=stream \
    MEDIA_LISTEN="127.0.0.1:$stream_grpc" MEDIA_HTTP_LISTEN="127.0.0.1:$stream_http" METRICS_LISTEN="127.0.0.1:$stream_metrics" \
    "$media_svc_bin" >"$work/media-s3-stream.log" 2>&1 &
stream_pid=$!; pids+=($stream_pid)

say "starting nginx on 127.0.0.1:$nginx_port"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    # TCP_CORK (tcp_nopush on) held the tail of every 64 KiB answer for a
    # delayed ACK (40 ms) on loopback; nginx's own default is off.
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    types { audio/mpeg mp3; }
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/nginx-root;
        location /media/ { }
    }
}
CONF
"$NGINX" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!; pids+=($nginx_pid)

wait_port "$s3_port" moto; wait_port "$fs_http" "media-svc fs"; wait_port "$s3_http" "media-svc S3"
wait_port "$redirect_http" "media-svc S3 redirect"; wait_port "$stream_http" "media-svc S3 stream"
wait_port "$nginx_port" nginx

say "running the load generator"
cargo bench -p media-svc --bench playback -- \
    --work "$work" --command "$command_line" --markdown "$root/target/media-bench/report.md" \
    --media-fs-grpc "127.0.0.1:$fs_grpc" --media-fs-http "127.0.0.1:$fs_http" --media-fs-pid "$fs_pid" \
    --nginx "127.0.0.1:$nginx_port" --nginx-pid "$nginx_pid" \
    --media-s3-grpc "127.0.0.1:$s3_grpc" --media-s3-http "127.0.0.1:$s3_http" --media-s3-pid "$s3_pid" \
    --media-s3-redirect-http "127.0.0.1:$redirect_http" --media-s3-redirect-pid "$redirect_pid" \
    --media-s3-stream-http "127.0.0.1:$stream_http" --media-s3-stream-pid "$stream_pid" \
    --s3-endpoint "127.0.0.1:$s3_port" --s3-pid "$moto_pid" --s3-bucket "$bucket" \
    "$@"
