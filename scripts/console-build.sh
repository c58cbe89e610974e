#!/usr/bin/env bash
# Builds the browser console (console/) and copies it where the binary
# embeds it (internal/httpapi/console/dist).
#   scripts/console-build.sh          build and replace the embedded copy
#   scripts/console-build.sh --check  build and fail if the embedded copy differs
# Needs node >= 20.19 and npm. Dependencies come from package-lock.json
# (npm ci); install scripts are not run (none is needed: esbuild and rollup
# ship their binaries as optional dependencies).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

embed=internal/httpapi/console/dist
cd console
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
npm run --silent build -- --logLevel warn
cd ..

if [[ "${1:-}" == "--check" ]]; then
	if ! diff -r "$embed" console/dist; then
		echo "console: the committed build in $embed differs from a build of console/;" >&2
		echo "run scripts/console-build.sh and commit the result" >&2
		exit 1
	fi
	echo "console: committed build matches the sources ($(gzip -9c console/dist/assets/app.js | wc -c) bytes of gzipped JavaScript)"
	exit 0
fi
rm -rf "$embed"
mkdir -p "$(dirname "$embed")"
cp -r console/dist "$embed"
echo "console: built into $embed ($(gzip -9c "$embed"/assets/app.js | wc -c) bytes of gzipped JavaScript)"
