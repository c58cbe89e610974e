#!/usr/bin/env bash
# Load test: cold start and GET /v1/workflows/{id}, on SQLite and PostgreSQL.
#
#   bash scripts/load.sh            (or: make load)
#
# Builds bin/flowker and bin/flowker-load, measures cold start (exec to
# /health/ready 200 on an empty SQLite database), then runs get-workflow at
# -c 32 and -c 1 against a server on SQLite and, if available, PostgreSQL.
# The load generator runs on the same machine as the server. Servers run with
# LOG_LEVEL=warn and RATE_LIMIT_PER_MINUTE=0 (all requests come from one client).
#
# PostgreSQL: LOAD_DATABASE_URL=postgres://… is used as is (migrations are
# applied to it). Unset, a throwaway database flowker_load_<pid> is created
# on postgres://postgres@127.0.0.1:5432 with psql and dropped at the end;
# if that is not possible, PostgreSQL is skipped.
#
# Tunables: LOAD_DURATION (10s), LOAD_WARMUP (2s), LOAD_CONCURRENCY (32),
# LOAD_COLD_RUNS (10). Every server started here is stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

duration=${LOAD_DURATION:-10s}
warmup=${LOAD_WARMUP:-2s}
conc=${LOAD_CONCURRENCY:-32}
cold_runs=${LOAD_COLD_RUNS:-10}
pg_admin="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
export LOG_LEVEL=warn          # logging must not distort the figures
export RATE_LIMIT_PER_MINUTE=0 # all load comes from one client: the limit would answer 429
export LC_NUMERIC=C            # for printf %f below

say() { printf '==> %s\n' "$*" >&2; }
die() {
	echo "load.sh: $*" >&2
	exit 1
}

server_pid=""
server_log=""
work=$(mktemp -d "${TMPDIR:-/tmp}/flowker-load.XXXXXX")
pg_db=""

stop_server() {
	[[ -n $server_pid ]] || return 0
	local pid=$server_pid
	server_pid=""
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do # 10 s
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "load.sh: server $pid still running 10s after SIGTERM; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || echo "load.sh: server $pid exited with status $?" >&2
	if [[ -s $server_log ]]; then # LOG_LEVEL=warn: anything here deserves a look
		echo "load.sh: server log ($(wc -l <"$server_log") lines), last lines:" >&2
		tail -n 5 "$server_log" >&2
	fi
}

cleanup() {
	stop_server
	if [[ -n $pg_db ]]; then
		psql -w -X -q -d "$pg_admin" -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null ||
			echo "load.sh: warning: could not drop database $pg_db" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port prints the first port from 4391 up that nothing listens on.
free_port() {
	local port
	for port in $(seq 4391 4491); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "no free port in 4391-4491"
}

# start_server NAME [ENV=VALUE...]: flowker in a fresh directory on a free port; sets $base.
start_server() {
	local name=$1 dir port
	shift
	dir="$work/$name"
	mkdir -p "$dir"
	port=$(free_port)
	base="http://127.0.0.1:$port"
	server_log="$dir/server.log"
	(cd "$dir" && exec env -u DATABASE_URL "$@" SERVER_ADDRESS="127.0.0.1:$port" "$root/bin/flowker") >"$server_log" 2>&1 &
	server_pid=$!
	for _ in $(seq 1 300); do # 30 s
		if curl -fsS -o /dev/null "$base/health/ready" 2>/dev/null; then
			say "$name: flowker (pid $server_pid) ready on $base"
			return
		fi
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$server_log" >&2
	die "$name: flowker did not become ready"
}

# field JSON KEY: one numeric field of a flat JSON object.
field() { sed -E 's/.*"'"$2"'":([^,}]*).*/\1/' <<<"$1"; }

rows=()
# measure STORE: get-workflow at -c $conc and -c 1 against $base; appends to rows.
measure() {
	local store=$1 c out
	for c in "$conc" 1; do
		say "$store: get-workflow -c $c -d $duration (warmup $warmup)"
		out=$(bin/flowker-load -url "$base" -c "$c" -d "$duration" -warmup "$warmup" -json)
		rows+=("$(printf '| %-10s | %4s | %9.0f | %6s | %7.3f | %7.3f | %7.3f | %7.3f |' "$store" "$c" \
			"$(field "$out" rps)" "$(field "$out" errors)" "$(field "$out" p50_ms)" \
			"$(field "$out" p90_ms)" "$(field "$out" p99_ms)" "$(field "$out" max_ms)")")
	done
}

loadavg=$(cut -d' ' -f1-3 /proc/loadavg) # other work on the machine distorts the figures
say "building bin/flowker and bin/flowker-load"
command -v curl >/dev/null || die "curl is needed"
commit=$(git describe --always --dirty 2>/dev/null || echo unknown) # of the tree being built
go build -o bin/flowker ./cmd/flowker
go build -o bin/flowker-load ./cmd/flowker-load

say "cold start: $cold_runs runs"
cold=$(bin/flowker-load -mode cold-start -bin bin/flowker -runs "$cold_runs" -json)

start_server sqlite
measure sqlite
stop_server

pg_url=${LOAD_DATABASE_URL:-}
if [[ -z $pg_url ]]; then
	if command -v psql >/dev/null && psql -w -X -q -At -d "$pg_admin" -c 'SELECT 1' >/dev/null 2>&1; then
		pg_db="flowker_load_$$"
		psql -w -X -q -v ON_ERROR_STOP=1 -d "$pg_admin" -c "CREATE DATABASE \"$pg_db\"" >/dev/null
		pg_url="postgres://postgres@127.0.0.1:5432/$pg_db?sslmode=disable"
		say "postgres: created throwaway database $pg_db"
	else
		say "postgres: skipped (set LOAD_DATABASE_URL, or run PostgreSQL on 127.0.0.1:5432 with psql and trust auth)"
	fi
fi
if [[ -n $pg_url ]]; then
	pg_version=$(psql -w -X -q -At -d "$pg_url" -c 'SHOW server_version' 2>/dev/null || echo "?")
	# PostgreSQL needs a key to seal secrets; a throwaway one does for a load test.
	start_server postgres DATABASE_URL="$pg_url" \
		FLOWKER_SECRET_KEY="${FLOWKER_SECRET_KEY:-$(head -c 32 /dev/urandom | base64)}"
	measure "postgres"
	stop_server
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cat <<EOF

Machine:  $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr)
Load avg: $loadavg (1/5/15 min, before the run)
Date:     $(date -u '+%Y-%m-%d %H:%M UTC')
Go:       $(go version | cut -d' ' -f3-)
Commit:   $commit
PostgreSQL: ${pg_version:-not measured}
Load:     get-workflow, warmup $warmup, then $duration; generator on the same machine

Cold start (SQLite, empty database, exec to /health/ready 200, $cold_runs runs):
  $(printf 'min %.1f ms, p50 %.1f ms, max %.1f ms' "$(field "$cold" min_ms)" "$(field "$cold" p50_ms)" "$(field "$cold" max_ms)")

| store      |    c |       rps | errors | p50 ms  | p90 ms  | p99 ms  | max ms  |
|------------|------|-----------|--------|---------|---------|---------|---------|
EOF
printf '%s\n' "${rows[@]}"
