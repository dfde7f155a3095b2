#!/usr/bin/env bash
# Runs the official MCP conformance suite (server scenarios) against the fixture server
# (examples/conformance_server.rs), (a) served directly over Streamable HTTP and (b) behind a
# Canopy tree (`canopy serve examples/trees/conformance.toml`): the stable suite (0.1.16,
# active scenarios) and the next one (0.2.0-alpha, the 2025-11-25 and 2026-07-28 requirement
# sets). Prints each run's `Total:` line; exits non-zero if any check failed.
# Needs scripts/setup/node.sh first (Node 22 and both suites in .tools/). Full logs go to
# target/conformance/. Usage: scripts/conformance.sh [direct|tree] (default: both).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
set -a
# shellcheck disable=SC1091
source .tools/test.env
set +a
export PATH="$CANOPY_NODE_BIN:$PATH"
: "${CANOPY_CONFORMANCE_STABLE:?run scripts/setup/node.sh first}"
: "${CANOPY_CONFORMANCE_NEXT:?run scripts/setup/node.sh first}"
targets="${1:-direct tree}"

cargo build --quiet --example conformance_server
cargo build --quiet -p canopy-cli
out="$root/target/conformance"
mkdir -p "$out"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# start NAME CMD...: starts a server whose stderr announces an http://…/mcp URL; sets $url.
start() {
  local name="$1"
  shift
  : >"$out/$name.stderr"
  "$@" 2>"$out/$name.stderr" &
  pids+=("$!")
  url=""
  for _ in $(seq 1 600); do
    url="$(grep -o 'http://[0-9.:]*/mcp' "$out/$name.stderr" | head -n 1 || true)"
    [ -n "$url" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "conformance: $name did not start:" >&2
  cat "$out/$name.stderr" >&2
  exit 1
}

status=0
# suite TARGET LABEL BIN ARGS...: one run of one suite; prints its Total line.
suite() {
  local target="$1" label="$2" bin="$3"
  shift 3
  local log="$out/$target-$label.log"
  local rc=0
  node "$bin" server --url "$url" "$@" >"$log" 2>&1 || rc=$?
  local total
  total="$(grep -E '^Total: ' "$log" | tail -n 1 || true)"
  printf '%-6s %-18s %s\n' "$target" "$label" "${total:-no Total line (exit $rc), see $log}"
  if [ "$rc" -ne 0 ] || [ -z "$total" ] || ! grep -qE ', 0 failed' <<<"$total"; then
    status=1
  fi
}

for target in $targets; do
  rm -f "$out/$target".* "$out/$target"-*
  case "$target" in
    direct) start direct target/debug/examples/conformance_server --http 127.0.0.1:0 ;;
    tree) start tree target/debug/canopy serve examples/trees/conformance.toml --http 127.0.0.1:0 ;;
    *) echo "conformance: unknown target '$target' (direct, tree)" >&2; exit 2 ;;
  esac
  suite "$target" stable "$CANOPY_CONFORMANCE_STABLE" --suite active
  suite "$target" next-2025-11-25 "$CANOPY_CONFORMANCE_NEXT" --requirements 2025-11-25
  suite "$target" next-2026-07-28 "$CANOPY_CONFORMANCE_NEXT" --requirements 2026-07-28
done
exit "$status"
