#!/bin/sh
# Authenticated REGISTER cost over UDP on loopback: for COUNT distinct users (sipp injection
# file) a REGISTER, the 401 digest challenge (MD5, qop=auth), the REGISTER with credentials and
# its 200. Runs osips (`osips -f`, release build) and then Kamailio (Debian's `kamailio`) with the
# same logic (usrloc in memory; the credentials are sipp's -au / -ap and the password is a
# constant of the script, as sipp cannot take them from its injection file; no database is timed:
# the digest is computed and checked per REGISTER all the same), and prints for each: registrations completed and failed, CPU time per
# authenticated REGISTER (utime + stime of every process of the proxy, from /proc/PID/stat) and
# peak memory (VmHWM), the memory osips grew by per stored contact (VmRSS), then the
# osips / Kamailio CPU ratio.
#
#   bench/register_auth.sh [COUNT] [RATE] [WORKERS]
# Defaults: 10000 users, 1000 registrations/s, 2 UDP workers (Kamailio: children=2).
set -eu
COUNT=${1:-10000}
RATE=${2:-1000}
WORKERS=${3:-2}
cd "$(dirname "$0")/.."
SIPP=${SIPP:-/usr/bin/sipp}
KAMAILIO=${KAMAILIO:-/usr/sbin/kamailio}
# OSIPS_BIN=path skips the release build (e.g. to try the script with a debug build).
if [ -z "${OSIPS_BIN:-}" ]; then
    cargo build --release --bin osips >/dev/null 2>&1
fi
OSIPS=${OSIPS_BIN:-${CARGO_TARGET_DIR:-target}/release/osips}

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TMP=$(mktemp -d)
PROXY=
cleanup() { [ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
HZ=$(getconf CLK_TCK)

osips_cfg() { # $1 proxy port
    cat <<CFG
socket = udp:127.0.0.1:$1
udp_workers = $WORKERS
log_level = 1
loadmodule "sl.so"
loadmodule "sipmsgops.so"
loadmodule "auth.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("auth", "calculate_ha1", 1)
modparam("usrloc", "use_domain", 1)
modparam("usrloc", "hash_size", 12)
route {
    if (!is_method("REGISTER")) { sl_send_reply(404, "Not Found"); exit; }
    \$avp(password) = "secret";
    if (!pv_www_authorize("example.com")) { www_challenge("example.com", "auth"); exit; }
    if (!save("location")) sl_reply_error();
}
CFG
}

kamailio_cfg() { # $1 proxy port
    cat <<CFG
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
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "auth.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_mode", 0)
modparam("usrloc", "use_domain", 1)
modparam("usrloc", "hash_size", 12)
request_route {
    if (!is_method("REGISTER")) { sl_send_reply("404", "Not Found"); exit; }
    \$var(pw) = "secret";
    if (!pv_www_authenticate("example.com", "\$var(pw)", "0")) { www_challenge("example.com", "1"); exit; }
    if (!save("location")) sl_reply_error();
}
CFG
}

python3 - "$COUNT" >"$TMP/users.csv" <<'PY'
import sys
print("SEQUENTIAL")
for i in range(int(sys.argv[1])):
    print(f"bench{i:07d};{i % 250 + 1};")
PY

cat >"$TMP/register.xml" <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register with digest">
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
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
      REGISTER sip:example.com SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:[field0]@example.com>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@example.com>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[field0]@127.0.0.[field1]:5060;transport=udp>
      [authentication]
      Expires: 3600
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
XML

pids() { echo "$PROXY"; ps -o pid= --ppid "$PROXY" 2>/dev/null || true; }
ticks() { for p in $(pids); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'; }
rss_kb() { for p in $(pids); do awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'; }
peak_kb() { for p in $(pids); do awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'; }
col() { # value of column $2 in the last line of sipp's statistics file $1
    n=$(head -1 "$1" | tr ';' '\n' | grep -n "^$2\$" | cut -d: -f1)
    tail -1 "$1" | tr ';' '\n' | sed -n "${n}p"
}

run() { # $1 name, $2 proxy port; the proxy command follows
    # prints "name ok failed cpu_us_per_register rss_growth_kb peak_kb"
    name=$1; port=$2; shift 2
    "$@" >"$TMP/$name.log" 2>&1 &
    PROXY=$!
    sleep 1.5
    R0=$(rss_kb); T0=$(ticks)
    "$SIPP" "127.0.0.1:$port" -sf "$TMP/register.xml" -inf "$TMP/users.csv" -i 127.0.0.1 \
        -p "$(free_port)" -au bench -ap secret -t u1 -m "$COUNT" -r "$RATE" -l 5000 -buff_size 4194304 \
        -recv_timeout 10000 -timeout 600s -trace_stat -fd 1 -stf "$TMP/${name}_uac.csv" \
        >/dev/null 2>&1 </dev/null || true
    sleep 0.5
    T1=$(ticks); R1=$(rss_kb); PEAK=$(peak_kb)
    kill "$PROXY" 2>/dev/null || true; wait "$PROXY" 2>/dev/null || true; PROXY=
    OK=$(col "$TMP/${name}_uac.csv" 'SuccessfulCall(C)'); FAILED=$(col "$TMP/${name}_uac.csv" 'FailedCall(C)')
    awk -v n="$name" -v t0="$T0" -v t1="$T1" -v hz="$HZ" -v ok="$OK" -v f="$FAILED" \
        -v r0="$R0" -v r1="$R1" -v peak="$PEAK" 'BEGIN {
        us = ok > 0 ? (t1 - t0) / hz * 1e6 / ok : 0;
        printf "%s %d %d %.1f %d %d\n", n, ok, f, us, r1 - r0, peak;
    }'
}

P=$(free_port); osips_cfg "$P" >"$TMP/osips.cfg"
O=$(run osips "$P" "$OSIPS" -f "$TMP/osips.cfg" -E -F)
P=$(free_port); kamailio_cfg "$P" >"$TMP/kamailio.cfg"
K=$(run kamailio "$P" "$KAMAILIO" -f "$TMP/kamailio.cfg" -DD -E -m 256 -M 16 -Y "$TMP")

printf '%s\n%s\n' "$O" "$K" | awk -v count="$COUNT" -v rate="$RATE" -v w="$WORKERS" '
    { name[NR] = $1; ok[NR] = $2; failed[NR] = $3; us[NR] = $4; grow[NR] = $5; peak[NR] = $6 }
    END {
        printf "%d users registering with digest auth at %d/s, %d workers each\n", count, rate, w;
        for (i = 1; i <= NR; i++)
            printf "%-9s registered %6d  failed %5d  CPU per REGISTER %7.1f us  peak memory %7.1f MB\n", name[i], ok[i], failed[i], us[i], peak[i] / 1024;
        if (ok[1] > 0) printf "osips memory growth per stored contact: %.0f bytes\n", grow[1] * 1024 / ok[1];
        if (us[2] > 0) printf "osips / Kamailio CPU per authenticated REGISTER: %.2f\n", us[1] / us[2];
    }'
