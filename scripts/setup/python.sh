#!/usr/bin/env bash
# Installs the Python side of the test suite into .tools/venv: the official MCP SDK (`mcp`).
# Idempotent; fails loudly when an install fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.tools/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import mcp' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'mcp>=2,<3'
fi
"$venv/bin/python" -c 'import mcp, importlib.metadata as m; print("python mcp", m.version("mcp"))'
echo "CANOPY_PYTHON=$venv/bin/python" >> "$root/.tools/test.env"
