#!/bin/sh
# kannel-down.sh WORKDIR: stop exactly the processes kannel-up.sh WORKDIR
# started, as listed in WORKDIR/pids ("name pid" lines).
#
# A PID is signalled only while /proc shows it alive and still running the
# expected program, so a PID the system has reused is left alone; nothing
# is ever killed by name. SIGTERM first, SIGKILL after KANNEL_STOP_TIMEOUT
# seconds (default 10). A PID may be the `timeout` wrapper kannel-up.sh
# starts each program under: its command line names the program too, and
# it passes SIGTERM on.
set -u

DIR=${1:?usage: kannel-down.sh WORKDIR}
PIDS="$DIR/pids"
STOP_TIMEOUT=${KANNEL_STOP_TIMEOUT:-10}
[ -f "$PIDS" ] || { echo "kannel-down: no $PIDS, nothing to stop"; exit 0; }

# program NAME: the program a "pids" entry must still be running.
program() {
    case $1 in
        fakesmsc-filter) echo awk ;;
        *) echo "$1" ;;
    esac
}

# ours PID PROGRAM: is PID alive and still running PROGRAM?
ours() {
    [ -r "/proc/$1/cmdline" ] || return 1
    tr '\0' ' ' < "/proc/$1/cmdline" | grep -q "$2"
}

stop() {
    name=$1; pid=$2; prog=$(program "$name")
    case $pid in ''|*[!0-9]*) echo "kannel-down: bad pid '$pid' for $name" >&2; return ;; esac
    ours "$pid" "$prog" || { echo "kannel-down: $name ($pid) already gone"; return; }
    kill -TERM "$pid" 2>/dev/null
    n=$((STOP_TIMEOUT * 5))
    while ours "$pid" "$prog" && [ "$n" -gt 0 ]; do sleep 0.2; n=$((n - 1)); done
    if ours "$pid" "$prog"; then
        # the wrapper's child first, then the wrapper
        for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill -KILL "$c" 2>/dev/null; done
        kill -KILL "$pid" 2>/dev/null
        echo "kannel-down: $name ($pid) killed with SIGKILL"
    else
        echo "kannel-down: $name ($pid) stopped"
    fi
}

# smsbox first, then the fake SMS centre and its filter, bearerbox last.
for want in smsbox fakesmsc fakesmsc-filter bearerbox; do
    while read -r name pid; do
        [ "$name" = "$want" ] && stop "$name" "$pid"
    done < "$PIDS"
done
rm -f "$PIDS" "$DIR/fakesmsc.fifo"
