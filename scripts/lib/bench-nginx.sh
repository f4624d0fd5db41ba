# Sourced by the serving benchmarks (scripts/bench-media, scripts/bench-video-serve): nginx as
# the peer they are measured against, started the same way for both.
#
#   source scripts/lib/bench-nginx.sh
#   start_bench_nginx DATA_DIR PORT   # serves DATA_DIR/ under /media/ on 127.0.0.1:PORT
#   ... "$NGINX_PIDS" (its master and workers, for the CPU time) ...
#
# nginx (Debian's package, installed with apt when missing) runs as a non-daemon child of the
# calling script with a config, prefix, pid and logs in a temporary directory, with
# `sendfile on; tcp_nopush off; access_log off;` (with Debian's default `tcp_nopush on`,
# 64 KiB range answers stall about 30 ms each), keep-alive unlimited and one worker per core.
# It is stopped, and its directory removed, when the calling script exits.

bench_nginx_pid=
bench_nginx_tmp=

stop_bench_nginx() {
    if [ -n "$bench_nginx_pid" ]; then
        kill "$bench_nginx_pid" 2>/dev/null || true
        wait "$bench_nginx_pid" 2>/dev/null || true
    fi
    [ -z "$bench_nginx_tmp" ] || rm -rf "$bench_nginx_tmp"
}

start_bench_nginx() {
    local data=$1 port=$2 nginx_bin made_policy user_line tmp deadline
    nginx_bin="$(command -v nginx || true)"
    [ -n "$nginx_bin" ] || [ ! -x /usr/sbin/nginx ] || nginx_bin=/usr/sbin/nginx
    if [ -z "$nginx_bin" ]; then
        echo "==> installing nginx (Debian package)"
        # Keep the package's scripts from starting a system nginx on port 80.
        made_policy=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            made_policy=1
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
        [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
        nginx_bin=/usr/sbin/nginx
    fi
    bench_nginx_tmp="$(mktemp -d)"
    tmp=$bench_nginx_tmp
    trap stop_bench_nginx EXIT
    user_line=
    [ "$(id -u)" != 0 ] || user_line="user root;"
    cat > "$tmp/nginx.conf" <<CONF
$user_line
worker_processes $(nproc);
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    default_type application/octet-stream;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location /media/ {
            alias $data/;
        }
    }
}
CONF
    "$nginx_bin" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" &
    bench_nginx_pid=$!
    deadline=$((SECONDS + 20))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$bench_nginx_pid" 2>/dev/null; then
            echo "nginx did not start:" >&2
            cat "$tmp/error.log" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    # nginx's master and workers, whose CPU time the benchmarks count.
    NGINX_PIDS="$bench_nginx_pid $(pgrep -P "$bench_nginx_pid" | tr '\n' ' ')"
    export NGINX_PIDS
    echo "==> nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///') on 127.0.0.1:$port, $(nproc) workers"
}
