#!/usr/bin/env bash
# CI step for the browser console: make sure Chromium (for the browser tests
# in internal/httpapi/consoletest) and Node/npm are installed, then rebuild
# the console and fail if the build committed under
# internal/httpapi/console/dist differs from its sources.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
if ((${#need[@]})); then
	echo "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
echo "node $(node --version), npm $(npm --version), $(chromium --version 2>/dev/null || chromium-browser --version)"
bash scripts/console-build.sh --check
