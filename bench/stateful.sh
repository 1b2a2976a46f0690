#!/bin/sh
# Stateful proxying cost over UDP on loopback: sipp UAC -> proxy (tm, t_relay) -> sipp UAS,
# INVITE / 100 / 180 / 200 / ACK / BYE / 200 per call, a fixed number of calls at a fixed rate.
# Runs osips (`osips -f`, release build) and then Kamailio (Debian's `kamailio`) with the same
# routing logic, and prints for each: completed and failed calls, CPU time per call (utime +
# stime of every process of the proxy, from /proc/PID/stat) and peak memory (VmHWM), then the
# osips / Kamailio CPU ratio.
#
#   bench/stateful.sh [COUNT] [RATE] [WORKERS]
# Defaults: 20000 calls, 1000 calls/s, 2 UDP workers (Kamailio: children=2).
#
# RR=1 adds record_route() for initial requests on both proxies.
set -eu
COUNT=${1:-20000}
RATE=${2:-1000}
WORKERS=${3:-2}
RR=${RR:-0}
cd "$(dirname "$0")/.."
SIPP=${SIPP:-/usr/bin/sipp}
KAMAILIO=${KAMAILIO:-/usr/sbin/kamailio}
UAC=tests/fixtures/transport/uac.xml
UAS=tests/fixtures/transport/uas.xml
# OSIPS_BIN=path skips the release build.
if [ -z "${OSIPS_BIN:-}" ]; then
    cargo build --release --bin osips >/dev/null 2>&1
fi
OSIPS=${OSIPS_BIN:-${CARGO_TARGET_DIR:-target}/release/osips}

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TMP=$(mktemp -d)
PROXY=; UAS_PID=
cleanup() {
    [ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null
    [ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
HZ=$(getconf CLK_TCK)

if [ "$RR" = 1 ]; then
    RECORD='if (!has_totag()) record_route();'; LOAD_RR='loadmodule "rr.so"'
else
    RECORD=; LOAD_RR=
fi

osips_cfg() { # $1 proxy port, $2 UAS port
    cat <<EOF
socket = udp:127.0.0.1:$1
udp_workers = $WORKERS
log_level = 1
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "sipmsgops.so"
$LOAD_RR
route {
    if (!mf_process_maxfwd_header(10)) { sl_send_reply(483, "Too Many Hops"); exit; }
    if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
    $RECORD
    \$du = "sip:127.0.0.1:$2";
    if (!t_relay()) sl_send_reply(500, "Relay failed");
}
EOF
}

kamailio_cfg() { # $1 proxy port, $2 UAS port
    cat <<EOF
#!KAMAILIO
debug=-1
log_stderror=yes
children=$WORKERS
listen=udp:127.0.0.1:$1
disable_tcp=yes
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
$LOAD_RR
request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
    $RECORD
    \$du = "sip:127.0.0.1:$2";
    if (!t_relay()) sl_send_reply("500", "Relay failed");
}
EOF
}

# Every process of the proxy: the main one and its children (Kamailio forks workers and timers).
pids() { echo "$PROXY"; ps -o pid= --ppid "$PROXY" 2>/dev/null || true; }
ticks() { for p in $(pids); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'; }
peak_kb() { for p in $(pids); do awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'; }

col() { # value of column $2 in the last line of sipp's statistics file $1
    n=$(head -1 "$1" | tr ';' '\n' | grep -n "^$2\$" | cut -d: -f1)
    tail -1 "$1" | tr ';' '\n' | sed -n "${n}p"
}

run() { # $1 name; the proxy command follows; prints "name ok failed cpu_us_per_call peak_kb"
    name=$1; shift
    "$@" >"$TMP/$name.log" 2>&1 &
    PROXY=$!
    sleep 1.5
    "$SIPP" -sf "$UAS" -i 127.0.0.1 -p "$UAS_PORT" -t u1 -m "$COUNT" -buff_size 4194304 \
        -timeout 600s -trace_stat -fd 1 -stf "$TMP/${name}_uas.csv" >/dev/null 2>&1 </dev/null &
    UAS_PID=$!
    sleep 0.5
    T0=$(ticks)
    "$SIPP" "127.0.0.1:$PROXY_PORT" -sf "$UAC" -i 127.0.0.1 -p "$UAC_PORT" -t u1 \
        -m "$COUNT" -r "$RATE" -l 20000 -buff_size 4194304 -recv_timeout 10000 -timeout 600s \
        -trace_stat -fd 1 -stf "$TMP/${name}_uac.csv" >/dev/null 2>&1 </dev/null || true
    sleep 0.5
    T1=$(ticks); PEAK=$(peak_kb)
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$UAS_PID" 2>/dev/null || break; sleep 0.5; done
    kill "$UAS_PID" 2>/dev/null || true; wait "$UAS_PID" 2>/dev/null || true; UAS_PID=
    kill "$PROXY" 2>/dev/null || true; wait "$PROXY" 2>/dev/null || true; PROXY=
    OK=$(col "$TMP/${name}_uac.csv" 'SuccessfulCall(C)'); FAILED=$(col "$TMP/${name}_uac.csv" 'FailedCall(C)')
    awk -v n="$name" -v t0="$T0" -v t1="$T1" -v hz="$HZ" -v ok="$OK" -v f="$FAILED" -v peak="$PEAK" 'BEGIN {
        us = ok > 0 ? (t1 - t0) / hz * 1e6 / ok : 0;
        printf "%s %d %d %.1f %d\n", n, ok, f, us, peak;
    }'
}

PROXY_PORT=$(free_port); UAS_PORT=$(free_port); UAC_PORT=$(free_port)
osips_cfg "$PROXY_PORT" "$UAS_PORT" >"$TMP/osips.cfg"
O=$(run osips "$OSIPS" -f "$TMP/osips.cfg" -E -F)

PROXY_PORT=$(free_port); UAS_PORT=$(free_port); UAC_PORT=$(free_port)
kamailio_cfg "$PROXY_PORT" "$UAS_PORT" >"$TMP/kamailio.cfg"
K=$(run kamailio "$KAMAILIO" -f "$TMP/kamailio.cfg" -DD -E -m 256 -M 16 -Y "$TMP")

printf '%s\n%s\n' "$O" "$K" | awk -v count="$COUNT" -v rate="$RATE" -v w="$WORKERS" '
    { name[NR] = $1; ok[NR] = $2; failed[NR] = $3; us[NR] = $4; peak[NR] = $5 }
    END {
        printf "%d calls offered at %d/s, %d workers each\n", count, rate, w;
        for (i = 1; i <= NR; i++)
            printf "%-9s completed %6d  failed %5d  CPU per call %8.1f us  peak memory %7.1f MB\n", name[i], ok[i], failed[i], us[i], peak[i] / 1024;
        if (us[2] > 0) printf "osips / Kamailio CPU per call: %.2f\n", us[1] / us[2];
    }'
