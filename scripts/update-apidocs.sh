#!/usr/bin/env bash
# Re-fetches the API reference renderer that GET /docs serves: the Redoc
# standalone bundle, pinned below, from the npm registry (npm pack into a
# temporary directory; nothing is installed), into internal/httpapi/apidocs/,
# where the binary embeds it. To update Redoc, change REDOC_VERSION and
# REDOC_INTEGRITY (`npm view redoc@<version> dist.integrity`), run this, and
# check the page (docs/decisions.md, "API contract"): go test ./internal/httpapi/
# -run TestAPIReferencePage, then open http://localhost:4021/docs.
# Usage: scripts/update-apidocs.sh
set -euo pipefail

REDOC_VERSION=2.5.4
REDOC_INTEGRITY=sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/internal/httpapi/apidocs"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

command -v npm >/dev/null || { echo "npm is required (Node.js)" >&2; exit 1; }
(cd "$tmp" && npm pack --silent "redoc@$REDOC_VERSION" >/dev/null)
tarball="$tmp/redoc-$REDOC_VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$got" != "$REDOC_INTEGRITY" ]]; then
	echo "redoc-$REDOC_VERSION.tgz: integrity $got, want $REDOC_INTEGRITY" >&2
	exit 1
fi
tar -xzf "$tarball" -C "$tmp" package/LICENSE package/bundles/redoc.standalone.js \
	package/bundles/redoc.standalone.js.LICENSE.txt
mkdir -p "$dest"
install -m 0644 "$tmp/package/bundles/redoc.standalone.js" "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" "$dest/"
install -m 0644 "$tmp/package/LICENSE" "$dest/LICENSE" # Redoc's MIT license
echo "==> internal/httpapi/apidocs: redoc $REDOC_VERSION standalone ($(wc -c <"$dest/redoc.standalone.js") bytes)"
