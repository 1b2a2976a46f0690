#!/bin/sh
# Stateless forwarding cost over UDP on loopback: sipp UAC -> osips (examples/stateless_fwd) ->
# sipp UAS, a fixed number of requests. Prints the proxy's CPU time (utime + stime of the whole
# process from /proc/PID/stat) per forwarded message.
#
#   bench/stateless.sh [MODE] [COUNT] [RATE] [WORKERS] [shared]
#   MODE requests: one MESSAGE per call, the UAS does not answer: CPU per forwarded request.
#   MODE calls:    INVITE / 180 / 200 / ACK / BYE / 200 per call: six forwarded messages per call.
# Defaults: requests, 50000, 5000/s, 2 UDP workers (each on its own SO_REUSEPORT socket;
# `shared` makes them share one socket).
set -eu
MODE=${1:-requests}
COUNT=${2:-50000}
RATE=${3:-5000}
WORKERS=${4:-2}
SHARED=${5:-}
cd "$(dirname "$0")/.."
SIPP=${SIPP:-/usr/bin/sipp}
case "$MODE" in
    requests) UAC=bench/sipp/request_uac.xml; UAS=bench/sipp/request_uas.xml; PER=1 ;;
    calls) UAC=tests/fixtures/transport/uac.xml; UAS=tests/fixtures/transport/uas.xml; PER=6 ;;
    *) echo "MODE must be requests or calls" >&2; exit 2 ;;
esac
cargo build --release --example stateless_fwd >/dev/null 2>&1
BIN=${CARGO_TARGET_DIR:-target}/release/examples/stateless_fwd

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PROXY_PORT=$(free_port); UAS_PORT=$(free_port); UAC_PORT=$(free_port)
TMP=$(mktemp -d)
PROXY=; UAS_PID=
cleanup() { [ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null; [ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

"$BIN" "udp:127.0.0.1:$PROXY_PORT" "udp:127.0.0.1:$UAS_PORT" "$WORKERS" $SHARED 2>"$TMP/proxy.log" &
PROXY=$!
"$SIPP" -sf "$UAS" -i 127.0.0.1 -p "$UAS_PORT" -t u1 -m "$COUNT" -buff_size 4194304 \
    -timeout 600s -trace_stat -fd 1 -stf "$TMP/uas_stat.csv" >/dev/null 2>&1 </dev/null &
UAS_PID=$!
sleep 0.5

ticks() { awk '{print $14 + $15}' "/proc/$PROXY/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$PROXY/stat"; }
HZ=$(getconf CLK_TCK)
T0=$(ticks); S0=$(sys_ticks)
START=$(date +%s.%N)
"$SIPP" "127.0.0.1:$PROXY_PORT" -sf "$UAC" -i 127.0.0.1 -p "$UAC_PORT" -t u1 \
    -m "$COUNT" -r "$RATE" -l 5000 -buff_size 4194304 -recv_timeout 10000 -timeout 600s \
    -trace_stat -fd 1 -stf "$TMP/uac_stat.csv" >/dev/null 2>&1 </dev/null || true
END=$(date +%s.%N)
sleep 0.5
T1=$(ticks); S1=$(sys_ticks)
# The UAS stops by itself after COUNT calls; give it a few seconds, then stop it.
for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$UAS_PID" 2>/dev/null || break; sleep 0.5; done
kill "$UAS_PID" 2>/dev/null || true; wait "$UAS_PID" 2>/dev/null || true; UAS_PID=

col() { # value of column $2 in the last line of sipp's statistics file $1
    n=$(head -1 "$1" | tr ';' '\n' | grep -n "^$2\$" | cut -d: -f1)
    tail -1 "$1" | tr ';' '\n' | sed -n "${n}p"
}
# Count what reached the UAS (every forwarded request) and what the UAC saw fail.
OK=$(col "$TMP/uas_stat.csv" 'SuccessfulCall(C)'); FAILED=$(col "$TMP/uac_stat.csv" 'FailedCall(C)')
awk -v t0="$T0" -v t1="$T1" -v s0="$S0" -v s1="$S1" -v hz="$HZ" -v ok="$OK" -v failed="$FAILED" -v s="$START" -v e="$END" \
    -v rate="$RATE" -v w="$WORKERS" -v per="$PER" -v mode="$MODE" 'BEGIN {
    cpu = (t1 - t0) / hz;
    printf "%s: %d completed at the UAS, %d failed at the UAC, offered %d/s over %.1f s, %d UDP workers\n", mode, ok, failed, rate, e - s, w;
    printf "proxy CPU: %.2f s (%.2f s in the kernel) for %d forwarded messages\n", cpu, (s1 - s0) / hz, ok * per;
    if (ok > 0) printf "proxy CPU per forwarded message: %.2f us\n", cpu * 1e6 / (per * ok);
}'
