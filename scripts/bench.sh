#!/usr/bin/env bash
# Engine benchmark: the reference workflow of PRODUCT.md §6 (webhook →
# tracer.validate-transaction → condition → midaz.create-transaction against
# a fake Tracer/Midaz answering at once) on SQLite (SQLITE_SYNCHRONOUS=FULL
# and NORMAL) and PostgreSQL.
#
#   bash scripts/bench.sh            (or: make bench)
#
# Builds bin/flowker, bin/flowker-ceiling and bin/flowker-bench, runs the
# bench (about 15 minutes on 2 cores), prints the Markdown report and adds it
# to docs/benchmarks.md (its own section there). Figures: completed
# executions/s and CPU per execution, also as ratios to the ceiling
# (cmd/flowker-ceiling: the same I/O and nothing else), PostgreSQL's own CPU
# and WAL per execution (when the server runs on this machine), sync
# p50/p99, engine overhead per step, peak RSS with 10,000 in flight, ready
# time, throughput with telemetry on vs off.
#
# Telemetry (phase t) exports to a real OpenTelemetry Collector: the one of
# the end-to-end telemetry test, built by ../shared/tools/otelcol/build.sh
# (~6 minutes the first time, then cached in ~/.cache/flowker-otelcol), or
# FLOWKER_OTELCOL_BIN=/path/to/otelcol. Without one, t is reported skipped.
#
# PostgreSQL: BENCH_DATABASE_URL=postgres://… is used as is (the bench works
# in a fresh schema of it and drops it). Unset, a throwaway database is made
# with scripts/ci-postgres.sh when a server answers on 127.0.0.1:5432, and
# dropped at the end; otherwise PostgreSQL is skipped.
#
# BENCH_ARGS passes flags to flowker-bench, e.g. a quick run:
#   BENCH_ARGS="-n 2000 -sync-n 300 -rss-n 2000 -rss-bounded 0" bash scripts/bench.sh
# the waiting-executions phase (100,000 parked at a review; not in the default):
#   BENCH_ARGS="-phases f -stores sqlite-normal,postgres" bash scripts/bench.sh
# and the history phase (5,000,000 past executions, dashboards; not in the
# default, ~15 minutes per store and ~20 GB of disk while it runs):
#   BENCH_ARGS="-phases h -stores sqlite-full,postgres" bash scripts/bench.sh
# (bin/flowker-bench -h lists them). BENCH_REPORT=0 leaves docs/benchmarks.md alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*" >&2; }

pg_db=""
cleanup() {
	if [[ -n $pg_db ]]; then
		bash scripts/ci-postgres.sh drop "$pg_db" >/dev/null 2>&1 ||
			echo "bench.sh: warning: could not drop database $pg_db" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

commit=$(git describe --always --dirty 2>/dev/null || echo unknown) # of the tree being built
say "building bin/flowker, bin/flowker-ceiling and bin/flowker-bench ($commit)"
go build -ldflags "-X flowker/internal/config.BuildVersion=$commit" -o bin/flowker ./cmd/flowker
go build -o bin/flowker-ceiling ./cmd/flowker-ceiling
go build -o bin/flowker-bench ./cmd/flowker-bench

# The collector for phase t, when the phases asked for (flowker-bench's
# default: abcdet) include it.
phases=abcdet
if [[ ${BENCH_ARGS:-} =~ -phases[=[:space:]]+([a-z]+) ]]; then phases=${BASH_REMATCH[1]}; fi
otel_tools=${FLOWKER_OTELCOL_TOOLS:-../shared/tools/otelcol}
if [[ $phases == *t* && -z ${FLOWKER_OTELCOL_BIN:-} && -f $otel_tools/build.sh ]]; then
	say "collector for phase t: $otel_tools/build.sh (cached after the first build, which takes minutes)"
	if bin=$(bash "$otel_tools/build.sh" | tail -n 1) && [[ -x $bin ]]; then
		export FLOWKER_OTELCOL_BIN=$bin
	else
		say "collector: build failed; phase t will be reported skipped"
	fi
fi

pg_url=${BENCH_DATABASE_URL:-}
if [[ -z $pg_url ]]; then
	if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 &&
		pg_db="flowker_bench_$$_$(date +%s)" &&
		pg_url=$(bash scripts/ci-postgres.sh create "$pg_db" 2>/dev/null); then
		say "postgres: throwaway database $pg_db"
	else
		pg_db="" pg_url=""
		say "postgres: skipped (set BENCH_DATABASE_URL, or run PostgreSQL on 127.0.0.1:5432)"
	fi
fi

report=(-report-file docs/benchmarks.md)
[[ ${BENCH_REPORT:-1} == 0 ]] && report=()
# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
bin/flowker-bench -bin bin/flowker -commit "$commit" -pg-url "$pg_url" "${report[@]}" ${BENCH_ARGS:-}
