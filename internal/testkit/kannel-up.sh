#!/bin/sh
# kannel-up.sh WORKDIR: start a Kannel SMS gateway on loopback for a test.
#
# Three processes from Debian's kannel and kannel-extras packages, all bound
# to 127.0.0.1: bearerbox (the core), smsbox (the HTTP sendsms API twostep's
# kannel provider calls) and fakesmsc (a fake SMS centre that writes down
# each text it is handed). Installs nothing; exits 2 when Kannel is absent.
#
# Writes into WORKDIR:
#   messages.txt   one line per text that reached the fake SMS centre:
#                  "<sender> <receiver> text <body>" (UCS-2 texts, sent with
#                  coding=2: "<sender> <receiver> ucs-2 <url-encoded UTF-16BE>")
#   pids           "name pid" lines: kannel-down.sh WORKDIR stops exactly these
#   kannel.conf, *.log, *.out   configuration and logs, for debugging
#
# Environment (defaults): KANNEL_SENDSMS_PORT=13013 KANNEL_ADMIN_PORT=13000
#   KANNEL_SMSBOX_PORT=13001 KANNEL_FAKE_PORT=10000 (tests pass free ports),
#   KANNEL_USER=tester KANNEL_PASS=testpw (sendsms credentials),
#   KANNEL_SENDER=12345 (when a request has no &from=),
#   KANNEL_START_TIMEOUT=20 (s), KANNEL_TTL=1800 (s: every process runs
#   under `timeout`, so a gateway whose test died still goes away; 0 = none).
#
# Then: curl "http://127.0.0.1:13013/cgi-bin/sendsms?username=tester&password=testpw&to=%2B15551234567&text=hello"
#       answers 202 "0: Accepted for delivery" (403 for a wrong password).
set -eu

DIR=${1:?usage: kannel-up.sh WORKDIR}
HOST=127.0.0.1
SENDSMS_PORT=${KANNEL_SENDSMS_PORT:-13013}
ADMIN_PORT=${KANNEL_ADMIN_PORT:-13000}
SMSBOX_PORT=${KANNEL_SMSBOX_PORT:-13001}
FAKE_PORT=${KANNEL_FAKE_PORT:-10000}
USER_=${KANNEL_USER:-tester}
PASS=${KANNEL_PASS:-testpw}
ADMIN_PASS=${KANNEL_ADMIN_PASS:-adminpw}
SENDER=${KANNEL_SENDER:-12345}
LOG_LEVEL=${KANNEL_LOG_LEVEL:-1}
START_TIMEOUT=${KANNEL_START_TIMEOUT:-20}
TTL=${KANNEL_TTL:-1800}

BEARERBOX=/usr/sbin/bearerbox
SMSBOX=/usr/sbin/smsbox
FAKESMSC=/usr/lib/kannel/test/fakesmsc # kannel-extras; not on PATH

for b in "$BEARERBOX" "$SMSBOX" "$FAKESMSC"; do
    if [ ! -x "$b" ]; then
        echo "kannel-up: $b not found: apt-get install -y kannel kannel-extras" >&2
        exit 2
    fi
done

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
PIDS="$DIR/pids"
[ -e "$PIDS" ] && { echo "kannel-up: $PIDS exists: run kannel-down.sh $DIR first" >&2; exit 1; }

# listening PORT: is a TCP port in LISTEN state? Reads /proc instead of
# connecting, because a probe connection to the fake-SMSC port would be
# taken for a fakesmsc client.
listening() {
    awk -v p=":$(printf '%04X' "$1")" \
        '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
for p in "$ADMIN_PORT" "$SMSBOX_PORT" "$FAKE_PORT" "$SENDSMS_PORT"; do
    if listening "$p"; then
        echo "kannel-up: port $p is already in use (set KANNEL_*_PORT)" >&2
        exit 1
    fi
done

if [ "$TTL" -gt 0 ] 2>/dev/null; then RUN="timeout $TTL"; else RUN=""; fi

cat > "$DIR/kannel.conf" <<CONF
# written by kannel-up.sh: loopback only
group = core
admin-port = $ADMIN_PORT
admin-interface = $HOST
admin-password = $ADMIN_PASS
status-password = $ADMIN_PASS
admin-allow-ip = "$HOST"
admin-deny-ip = "*.*.*.*"
smsbox-port = $SMSBOX_PORT
smsbox-interface = $HOST
box-allow-ip = "$HOST"
box-deny-ip = "*.*.*.*"
log-file = "$DIR/bearerbox.log"
log-level = $LOG_LEVEL
access-log = "$DIR/bearerbox-access.log"

group = smsc
smsc = fake
smsc-id = fake
port = $FAKE_PORT
our-host = $HOST
connect-allow-ip = "$HOST"

group = smsbox
bearerbox-host = $HOST
bearerbox-port = $SMSBOX_PORT
sendsms-port = $SENDSMS_PORT
sendsms-interface = $HOST
global-sender = $SENDER
log-file = "$DIR/smsbox.log"
log-level = $LOG_LEVEL
access-log = "$DIR/smsbox-access.log"

group = sendsms-user
username = $USER_
password = $PASS
user-allow-ip = "$HOST"
max-messages = 10
concatenation = true

# Kannel wants a service for incoming messages; none arrive, none answer.
group = sms-service
keyword = default
text = "unused"
max-messages = 0
CONF

record() { echo "$1 $2" >> "$PIDS"; }

fail() {
    echo "kannel-up: $*" >&2
    for f in bearerbox.out smsbox.out fakesmsc.log; do
        [ -s "$DIR/$f" ] && { echo "--- last lines of $f" >&2; tail -n 5 "$DIR/$f" >&2; }
    done
    "$(dirname "$0")/kannel-down.sh" "$DIR" >&2
    exit 1
}

# wait_for PID WHAT COMMAND...: poll COMMAND every 0.2 s until it succeeds,
# failing when PID exits or START_TIMEOUT passes.
wait_for() {
    wpid=$1; what=$2; shift 2
    n=$((START_TIMEOUT * 5))
    while ! "$@"; do
        kill -0 "$wpid" 2>/dev/null || fail "process $wpid exited while waiting for $what"
        n=$((n - 1))
        [ "$n" -gt 0 ] || fail "no $what after ${START_TIMEOUT}s"
        sleep 0.2
    done
}
in_log() { grep -q "$2" "$1" 2>/dev/null; }

# 1. bearerbox listens on the admin, smsbox and fake-SMSC ports. It must be
#    up first: fakesmsc is a client of it and gives up if it is not.
# shellcheck disable=SC2086
$RUN "$BEARERBOX" -v "$LOG_LEVEL" "$DIR/kannel.conf" < /dev/null > "$DIR/bearerbox.out" 2>&1 &
BB=$!; record bearerbox "$BB"
wait_for "$BB" "bearerbox on port $FAKE_PORT" listening "$FAKE_PORT"
wait_for "$BB" "bearerbox on port $SMSBOX_PORT" listening "$SMSBOX_PORT"

# 2. fakesmsc, only receiving: "-m 0" sends no message of its own (with no
#    message argument it would read stdin). Its output goes through a FIFO
#    to awk, which copies it to fakesmsc.log and writes each received text
#    to messages.txt at once (Debian's mawk buffers a pipe unless told
#    -W interactive).
AWK=awk
if awk -W version 2>&1 | grep -q mawk; then AWK="awk -W interactive"; fi
rm -f "$DIR/fakesmsc.fifo"; mkfifo "$DIR/fakesmsc.fifo"
: > "$DIR/messages.txt"
# shellcheck disable=SC2016
$AWK -v logf="$DIR/fakesmsc.log" '
    { print > logf; fflush(logf) }
    /Got message [0-9]+: </ { s = $0; sub(/^.*Got message [0-9]+: </, "", s); sub(/>$/, "", s); print s; fflush() }
' < "$DIR/fakesmsc.fifo" > "$DIR/messages.txt" 2> "$DIR/fakesmsc-filter.err" &
record fakesmsc-filter $!
# shellcheck disable=SC2086
$RUN "$FAKESMSC" -H "$HOST" -r "$FAKE_PORT" -m 0 "000 000 text unused" \
    < /dev/null > "$DIR/fakesmsc.fifo" 2>&1 &
FS=$!; record fakesmsc "$FS"
wait_for "$FS" "fakesmsc connection" in_log "$DIR/bearerbox.log" "Fakesmsc client connected"

# 3. smsbox opens its sendsms port before it has reached bearerbox, and a
#    request in between would wait: wait for both.
# shellcheck disable=SC2086
$RUN "$SMSBOX" -v "$LOG_LEVEL" "$DIR/kannel.conf" < /dev/null > "$DIR/smsbox.out" 2>&1 &
SB=$!; record smsbox "$SB"
wait_for "$SB" "smsbox on port $SENDSMS_PORT" listening "$SENDSMS_PORT"
wait_for "$SB" "smsbox connection to bearerbox" in_log "$DIR/smsbox.log" "Connected to bearerbox"

echo "kannel-up: ready: http://$HOST:$SENDSMS_PORT/cgi-bin/sendsms (user $USER_); texts in $DIR/messages.txt"
