#!/usr/bin/env bash
# Compares two builds of flowker under one phase of the bench, in
# interleaved pairs: base, then new, then base again… On a shared host
# whose speed drifts by a tenth or more within minutes (docs/benchmarks.md,
# eighteenth and nineteenth passes), only runs made back to back compare;
# one run of each says nothing about a change of a few percent.
#
#   bash scripts/bench-ab.sh BASE [NEW]
#
# BASE and NEW are commits (anything git rev-parse takes); NEW defaults to
# the work tree as it is, uncommitted changes included. Both are built
# from clean checkouts (git worktree) except the work tree itself, and
# measured by the work tree's flowker-bench, so only the server differs.
#
#   PAIRS=4          pairs to run
#   PHASE=a          a (throughput and CPU per execution, -ceiling=false)
#                    or b (synchronous p50 and CPU per call)
#   STORE=sqlite-full  sqlite-full, sqlite-normal or postgres
#   N=30000          phase a: async calls per run (SYNC_N=2000 for phase b)
#   BENCH_DATABASE_URL  postgres: the database (a fresh schema per run);
#                    unset, a throwaway one is made as in bench.sh
#
# Prints each pair and, at the end, the means and in how many pairs the
# new build did better. Nothing is written to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[[ $# -ge 1 && $# -le 2 ]] || { sed -n '2,25p' "$0" >&2; exit 2; }
pairs=${PAIRS:-4} phase=${PHASE:-a} store=${STORE:-sqlite-full}
[[ $phase == a || $phase == b ]] || { echo "bench-ab.sh: PHASE is a or b" >&2; exit 2; }

work=$(mktemp -d /tmp/flowker-ab-XXXXXX)
pg_db=""
cleanup() {
	git worktree remove --force "$work/base-src" >/dev/null 2>&1 || true
	git worktree remove --force "$work/new-src" >/dev/null 2>&1 || true
	[[ -n $pg_db ]] && bash scripts/ci-postgres.sh drop "$pg_db" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT

# build NAME REV: bin/flowker of REV ("" = the work tree) into $work/NAME.
build() {
	local src=.
	if [[ -n $2 ]]; then
		src=$work/$1-src
		git worktree add --quiet --detach "$src" "$2"
	fi
	mkdir -p "$work/$1"
	(cd "$src" && go build -o "$work/$1/flowker" ./cmd/flowker)
	echo "==> $1: $(git -C "$src" describe --always --dirty)" >&2
}
# Resolved first, in assignments: a revision that does not resolve stops
# the script here, where inside build's argument it would have built the
# work tree in its place.
base_rev=$(git rev-parse --verify --quiet "$1^{commit}") || { echo "bench-ab.sh: no commit $1" >&2; exit 2; }
new_rev=""
if [[ $# -eq 2 ]]; then
	new_rev=$(git rev-parse --verify --quiet "$2^{commit}") || { echo "bench-ab.sh: no commit $2" >&2; exit 2; }
fi
build base "$base_rev"
build new "$new_rev"
go build -o "$work/flowker-bench" ./cmd/flowker-bench

pg_url=${BENCH_DATABASE_URL:-}
if [[ $store == postgres && -z $pg_url ]]; then
	pg_db="flowker_ab_$$_$(date +%s)"
	pg_url=$(bash scripts/ci-postgres.sh create "$pg_db")
fi

# measure NAME: one run; prints "throughput-or-p50 cpu" as bare numbers.
measure() {
	local out
	out=$("$work/flowker-bench" -bin "$work/$1/flowker" -ceiling=false -stores "$store" -pg-url "$pg_url" \
		-phases "$phase" -n "${N:-30000}" -sync-n "${SYNC_N:-2000}" -commit "$1" 2>/dev/null)
	if [[ $phase == a ]]; then
		awk -F'|' '/^\| a\. completed executions/ {gsub(/[^0-9.]/, "", $4); v=$4}
			/^\| a\. flowker CPU per execution/ {gsub(/ ms.*|[^0-9. ]/, "", $4); c=$4}
			END {print v, c}' <<<"$out"
	else
		awk -F'|' '/^\| b\. sync p50/ {gsub(/ ms.*|[^0-9. ]/, "", $4); v=$4}
			/flowker \/ ceiling CPU per synchronous call/ {split($4, x, " ms"); gsub(/[^0-9.]/, "", x[1]); c=x[1]}
			END {print v, c}' <<<"$out"
	fi
}

what="executions/s (higher is better), CPU ms per execution"
[[ $phase == b ]] && what="sync p50 ms (lower is better), CPU ms per call"
echo "phase $phase on $store, $pairs pairs: $what"
results=()
for ((i = 1; i <= pairs; i++)); do
	read -r bv bc < <(measure base)
	read -r nv nc < <(measure new)
	[[ -n ${bv:-} && -n ${nv:-} ]] || { echo "bench-ab.sh: a run failed (run flowker-bench alone to see why)" >&2; exit 1; }
	printf 'pair %d: base %s (%s ms)  new %s (%s ms)\n' "$i" "$bv" "$bc" "$nv" "$nc"
	results+=("$bv $bc $nv $nc")
done
printf '%s\n' "${results[@]}" | awk -v phase="$phase" '
	{ bv += $1; bc += $2; nv += $3; nc += $4; n++
	  if ((phase == "a" && $3 > $1) || (phase == "b" && $3 < $1)) better++ }
	END { printf "mean: base %.2f (%.3f ms)  new %.2f (%.3f ms)  new/base %.3f; new better in %d of %d pairs\n",
		bv/n, bc/n, nv/n, nc/n, (nv/n)/(bv/n), better, n }'
