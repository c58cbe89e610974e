#!/usr/bin/env bash
# Crash test (run by .ci/run): start the flowker binary, submit 600
# executions of a 3-step workflow against a slow fake provider that answers
# 503 to the first two calls of a quarter of the steps (retries with
# backoff), request cancels for 40 unfinished executions and kill -9 the
# process while some are unanswered; restart on the same database and
# kill -9 again while it recovers; restart once more, and check that every
# execution finishes exactly once (completed, or cancelled when its cancel
# was requested), that no step recorded as completed calls the provider
# again, that no step makes two successful calls in one process life, and
# that an acknowledged cancel runs nothing after the kill
# (cmd/flowker TestCrashRecovery). Then the same with waiting executions
# (cmd/flowker TestCrashWaits, docs/waiting.md): 120 executions wait for a
# callback whose URL their first call handed to the provider; kill -9 while
# the callbacks are delivered, restart and deliver them all again (409
# FLK-0525 for each that committed, 202 for the others); kill -9 while
# delay timers are pending; restart (the timers fire by themselves), kill -9
# between the first and the second approval of a few four-eyes reviews;
# restart, approve every review, and check that no callback, timer or
# decision was lost or applied twice, that the last call runs once per
# execution, and that the audit chain verifies. Both are skipped unless
# FLOWKER_CRASH_TEST=1.
#
#   bash scripts/ci-crash.sh
#
# SQLite always. PostgreSQL with FLOWKER_TEST_DATABASE_URL (.ci/run exports
# it); without it, when a server answers on 127.0.0.1:5432, in a throwaway
# database made by scripts/ci-postgres.sh. On 2 cores: ~6 s of
# TestCrashRecovery on SQLite, ~20 s on PostgreSQL (leases of killed
# processes lapse before others take them); ~6 s and ~15 s of
# TestCrashWaits; about 2 minutes in all with the builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export FLOWKER_CRASH_TEST=1
test_cmd=(go test -count=1 -v -run '^TestCrash(Recovery|Waits)$' -timeout 5m ./cmd/flowker)

if [[ -n ${FLOWKER_TEST_DATABASE_URL:-} ]]; then
	"${test_cmd[@]}"
elif command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
	bash scripts/ci-postgres.sh run "${test_cmd[@]}"
else
	echo "ci-crash: no PostgreSQL (FLOWKER_TEST_DATABASE_URL unset, nothing on 127.0.0.1:5432): SQLite only" >&2
	"${test_cmd[@]}"
fi
