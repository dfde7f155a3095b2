#!/usr/bin/env bash
# Installs the authorization server the OAuth tests start on loopback: `oidc-provider`
# (npm; an OpenID Certified implementation), run by
# crates/canopy-cli/tests/oauth/authorization_server.mjs with client credentials and resource
# indicators, so that it issues JWT access tokens bound to an audience. Needs node.sh first
# (it runs before this one). Idempotent; fails loudly.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/.tools"
export PATH="$tools/node-22.23.3/bin:$PATH"
dir="$tools/oauth"
mkdir -p "$dir"
if [ ! -f "$dir/node_modules/oidc-provider/package.json" ]; then
  (cd "$dir" && { [ -f package.json ] || echo '{"private":true,"type":"module"}' > package.json; })
  (cd "$dir" && npm install --silent --no-audit --no-fund oidc-provider@9.13.3)
fi
node -e "console.log('oidc-provider', require('$dir/node_modules/oidc-provider/package.json').version)"
echo "CANOPY_OIDC_PROVIDER=$dir/node_modules/oidc-provider" >> "$tools/test.env"
