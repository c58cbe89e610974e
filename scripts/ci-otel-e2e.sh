#!/usr/bin/env bash
# End-to-end telemetry test against a real OpenTelemetry Collector.
#
#   bash scripts/ci-otel-e2e.sh
#
# Builds the collector with ../shared/tools/otelcol/build.sh (OTLP receiver,
# file exporter; cached under ~/.cache/flowker-otelcol after the first build,
# which takes ~6 minutes on 2 cores with empty Go caches), then runs
# TestTelemetryEndToEnd and the telemetry path tests in cmd/flowker: flowker exports traces, metrics and
# logs over OTLP/gRPC to the collector, which writes them as JSON lines, and
# the test asserts on what arrived (docs/telemetry.md, "End-to-end test").
# Before it, the HTTP server instrumentation is compared with otelfiber in
# process (internal/telemetry/http_equivalence_test.go).
#
# FLOWKER_OTELCOL_BIN=/path/to/otelcol skips the build. FLOWKER_OTELCOL_TOOLS
# points at another copy of the collector tools (default ../shared/tools/otelcol).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools=${FLOWKER_OTELCOL_TOOLS:-../shared/tools/otelcol}
if [[ ! -f $tools/config.yaml ]]; then
	echo "ci-otel-e2e: $tools/config.yaml not found (set FLOWKER_OTELCOL_TOOLS)" >&2
	exit 1
fi
tools=$(cd "$tools" && pwd)

bin=${FLOWKER_OTELCOL_BIN:-}
if [[ -z $bin ]]; then
	started=$SECONDS
	bin=$(bash "$tools/build.sh" | tail -n 1)
	echo "collector: $bin ($((SECONDS - started))s)"
fi
if [[ ! -x $bin ]]; then
	echo "ci-otel-e2e: collector binary $bin is not executable" >&2
	exit 1
fi

# The HTTP server instrumentation must emit what otelfiber emitted: first
# the in-process comparison with otelfiber itself, then the contract as the
# collector receives it (in TestTelemetryEndToEnd).
go test -count=1 -run '^TestServerTelemetry' ./internal/telemetry/

export FLOWKER_OTELCOL_BIN=$bin
export FLOWKER_OTELCOL_CONFIG=$tools/config.yaml
export FLOWKER_REQUIRE_OTELCOL=1 # a skip is a failure here
go test -count=1 -timeout 5m -run '^(TestTelemetryEndToEnd|TestCancelledWaitingExecutionIsCounted|TestRetriedRunIsLinkedToTheRetryRequest|TestExecutionCarriesTraceStateAndBaggage)$' -v ./cmd/flowker/
