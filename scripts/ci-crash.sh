#!/usr/bin/env bash
# Crash test (run by .ci/run): start the flowker binary, submit 600
# executions of a 3-step workflow against a slow fake provider, kill -9 the
# process mid-flight, restart it on the same database and check that every
# execution completes exactly once and that no step recorded as completed
# calls the provider again. cmd/flowker TestCrashRecovery, which is skipped
# unless FLOWKER_CRASH_TEST=1.
#
#   bash scripts/ci-crash.sh
#
# SQLite always. PostgreSQL with FLOWKER_TEST_DATABASE_URL (.ci/run exports
# it); without it, when a server answers on 127.0.0.1:5432, in a throwaway
# database made by scripts/ci-postgres.sh. Takes well under a minute per store.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export FLOWKER_CRASH_TEST=1
test_cmd=(go test -count=1 -v -run '^TestCrashRecovery$' -timeout 5m ./cmd/flowker)

if [[ -n ${FLOWKER_TEST_DATABASE_URL:-} ]]; then
	"${test_cmd[@]}"
elif command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
	bash scripts/ci-postgres.sh run "${test_cmd[@]}"
else
	echo "ci-crash: no PostgreSQL (FLOWKER_TEST_DATABASE_URL unset, nothing on 127.0.0.1:5432): SQLite only" >&2
	"${test_cmd[@]}"
fi
