#!/bin/sh
# REGISTER without authentication for COUNT distinct users (sipp injection file) against
# `osips -f` with usrloc in memory (db_mode 0) and registrar. Prints the proxy's CPU time
# (utime + stime from /proc/PID/stat) per accepted REGISTER and the resident memory it grew by
# per stored contact (VmRSS before and after, divided by usrloc's registered_users).
#
#   bench/register.sh [COUNT] [RATE] [WORKERS]
# Defaults: 50000 users, 2000 REGISTER/s, 2 UDP workers.
set -eu
COUNT=${1:-50000}
RATE=${2:-2000}
WORKERS=${3:-2}
cd "$(dirname "$0")/.."
SIPP=${SIPP:-/usr/bin/sipp}
cargo build --release --bin osips >/dev/null 2>&1
BIN=${CARGO_TARGET_DIR:-target}/release/osips

free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="u" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
PORT=$(free_port u); UAC_PORT=$(free_port u); HTTP=$(free_port t)
TMP=$(mktemp -d)
PROXY=
cleanup() { [ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

cat >"$TMP/osips.cfg" <<EOF
socket = udp:127.0.0.1:$PORT
udp_workers = $WORKERS
log_level = 2
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", $HTTP)
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "use_domain", 1)
modparam("usrloc", "hash_size", 12)
route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    sl_send_reply(404, "Not Found");
}
EOF

python3 - "$COUNT" >"$TMP/users.csv" <<'EOF'
import sys
print("SEQUENTIAL")
for i in range(int(sys.argv[1])):
    print(f"bench{i:07d};{i % 250 + 1};")
EOF

cat >"$TMP/register.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:example.com SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:[field0]@example.com>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@example.com>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@127.0.0.[field1]:5060;transport=udp>
      Expires: 3600
      Max-Forwards: 70
      User-Agent: sipp-register-bench
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
EOF

"$BIN" -f "$TMP/osips.cfg" -E -F 2>"$TMP/proxy.log" &
PROXY=$!
for _ in $(seq 50); do grep -q "listening on" "$TMP/proxy.log" 2>/dev/null && break; sleep 0.1; done

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$PROXY/status"; }
ticks() { awk '{print $14 + $15}' "/proc/$PROXY/stat"; }
mi() { python3 -c 'import json,sys,urllib.request as u; r=u.urlopen(u.Request(sys.argv[1], data=json.dumps({"jsonrpc":"2.0","id":"1","method":sys.argv[2],"params":json.loads(sys.argv[3])}).encode(), headers={"Content-Type":"application/json"})); print(json.dumps(json.load(r)["result"]))' "http://127.0.0.1:$HTTP/mi" "$@"; }
HZ=$(getconf CLK_TCK)
# Warm up the allocator and the MI path once, then take the baseline.
mi get_statistics '[["usrloc:registered_users"]]' >/dev/null
R0=$(rss); T0=$(ticks)
START=$(date +%s.%N)
"$SIPP" "127.0.0.1:$PORT" -sf "$TMP/register.xml" -inf "$TMP/users.csv" -i 127.0.0.1 -p "$UAC_PORT" \
    -t u1 -m "$COUNT" -r "$RATE" -l 5000 -buff_size 4194304 -recv_timeout 10000 -timeout 600s \
    -trace_stat -fd 1 -stf "$TMP/uac_stat.csv" >/dev/null 2>&1 </dev/null || true
END=$(date +%s.%N)
sleep 0.5
T1=$(ticks); R1=$(rss)
USERS=$(mi get_statistics '[["usrloc:registered_users"]]' | python3 -c 'import json,sys; print(list(json.load(sys.stdin).values())[0])')

col() { # value of column $2 in the last line of sipp's statistics file $1
    n=$(head -1 "$1" | tr ';' '\n' | grep -n "^$2\$" | cut -d: -f1)
    tail -1 "$1" | tr ';' '\n' | sed -n "${n}p"
}
OK=$(col "$TMP/uac_stat.csv" 'SuccessfulCall(C)'); FAILED=$(col "$TMP/uac_stat.csv" 'FailedCall(C)')
awk -v t0="$T0" -v t1="$T1" -v hz="$HZ" -v ok="$OK" -v failed="$FAILED" -v s="$START" -v e="$END" \
    -v rate="$RATE" -v r0="$R0" -v r1="$R1" -v users="$USERS" -v w="$WORKERS" 'BEGIN {
    cpu = (t1 - t0) / hz;
    printf "%d REGISTER answered 200, %d failed, offered %d/s over %.1f s, %d UDP workers\n", ok, failed, rate, e - s, w;
    printf "registered_users: %d; proxy CPU %.2f s\n", users, cpu;
    if (ok > 0) printf "proxy CPU per REGISTER: %.1f us\n", cpu * 1e6 / ok;
    if (users > 0) printf "RSS %d -> %d KiB: %.0f bytes per stored contact\n", r0, r1, (r1 - r0) * 1024 / users;
}'
