# Thin wrapper over go and scripts/ (the same scripts CI uses). `make help` lists targets.
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.DEFAULT_GOAL := help
.PHONY: help run build test vet lint pg-test load bench ci

help: ## List targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## Run the service (go run ./cmd/flowker; extra flags via ARGS=...)
	go run ./cmd/flowker $(ARGS)

build: ## Build bin/flowker, stamping VERSION (default: git describe, or "dev")
	go build -ldflags "-X flowker/internal/config.BuildVersion=$(VERSION)" -o bin/flowker ./cmd/flowker

test: ## Run the tests (go test ./...)
	go test ./...

vet: ## Run go vet
	go vet ./...

lint: ## Run golangci-lint (pinned version, installed into .cache/bin on first use)
	bash scripts/golangci-lint.sh run ./...

pg-test: ## Run the tests against the local PostgreSQL in a throwaway database
	bash scripts/ci-postgres.sh run go test -count=1 ./...

load: ## Run the load test (scripts/load.sh)
	@test -f scripts/load.sh || { echo "scripts/load.sh does not exist yet" >&2; exit 1; }
	bash scripts/load.sh

bench: ## Run the engine benchmark (scripts/bench.sh; adds its report to docs/benchmarks.md)
	bash scripts/bench.sh

ci: ## Run the full CI pipeline locally (bash .ci/run)
	bash .ci/run
