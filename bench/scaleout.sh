#!/bin/sh
# scaleout.sh BIN BENCH OUTDIR: the scale-out table of docs/benchmarks.md
# (issue #6). Each row seeds 300 users into a fresh store: a new SQLite temp
# dir, or a new PostgreSQL database bench_<random> on 127.0.0.1:5432 that
# is dropped afterwards; Redis rows get a random key_prefix from bench.
# Rows run one after the other, never in parallel (shared cores).
set -u
BIN=${1:?twostep binary}; BENCH=${2:?bench binary}; OUT=${3:?output dir}
mkdir -p "$OUT"
PG=${PG:-127.0.0.1}; REDIS=${REDIS:-redis://127.0.0.1:6379/0}
row() { # name instances db(sqlite|pg) redis(0|1) scenario args...
	name=$1 n=$2 db=$3 r=$4 sc=$5; shift 5
	set -- --server "$BIN" --instances "$n" --users 300 --scenario "$sc" --timeout 300s --json "$@"
	dbname=""
	if [ "$db" = pg ]; then
		dbname=bench_$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
		psql -h "$PG" -U postgres -qc "CREATE DATABASE $dbname" || return
		set -- "$@" --database "postgres://postgres@$PG:5432/$dbname?sslmode=disable"
	fi
	[ "$r" = 1 ] && set -- "$@" --redis "$REDIS"
	echo "== $name $sc: $BENCH $*" | sed "s/${dbname:-bench_RANDOM}/bench_RANDOM/g" | tee "$OUT/$name-$sc.cmd"
	"$BENCH" "$@" >"$OUT/$name-$sc.json" 2>"$OUT/$name-$sc.log"; echo "   exit $?"
	[ -n "$dbname" ] && psql -h "$PG" -U postgres -qc "DROP DATABASE $dbname WITH (FORCE)"
}
for cfg in ${CONFIGS:-sqlite:1:sqlite:0 pg1:1:pg:0 pg3:3:pg:0 pgr1:1:pg:1 pgr3:3:pg:1}; do
	IFS=: read name n db r <<E
$cfg
E
	for sc in ${SCENARIOS:-verify-totp forward-auth sms-setup login-flood}; do
		case $sc in
		verify-totp) row "$name" "$n" "$db" "$r" "$sc" --concurrency 64 ;;
		forward-auth) row "$name" "$n" "$db" "$r" "$sc" --concurrency 64 --duration 10s ;;
		sms-setup) row "$name" "$n" "$db" "$r" "$sc" --concurrency 64 ;;
		login-flood) row "$name" "$n" "$db" "$r" "$sc" --concurrency 500 --duration 15s ;;
		esac
	done
done
