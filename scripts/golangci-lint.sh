#!/usr/bin/env bash
# Runs the pinned golangci-lint, installing it into .cache/bin first if needed.
# Used by both .ci/run and `make lint`.  Usage: scripts/golangci-lint.sh run ./...
set -euo pipefail

GOLANGCI_LINT_VERSION=v2.15.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bindir="$root/.cache/bin"
bin="$bindir/golangci-lint"

# Reinstall if missing, a different version, or built by a different Go
# toolchain (golangci-lint refuses code targeting a newer Go than its own).
want="has version ${GOLANGCI_LINT_VERSION#v} built with $(go env GOVERSION) "
have="$("$bin" version 2>/dev/null || true)"
if [[ "$have" != *"$want"* ]]; then
	echo "==> installing golangci-lint $GOLANGCI_LINT_VERSION into .cache/bin (builds from source; a few minutes on a cold cache)" >&2
	start=$SECONDS
	GOBIN="$bindir" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
	echo "==> installed golangci-lint in $((SECONDS - start))s" >&2
fi

exec "$bin" "$@"
