#!/usr/bin/env bash
# Every check, after scripts/test.sh has installed what they need (its setup steps wrote the
# variables the tests read to .tools/test.env). Run it through scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
set -a
# shellcheck disable=SC1091
source .tools/test.env
set +a

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace --all-targets
cargo test --workspace --doc
echo "== conformance: the official MCP suite, the fixture directly and through the three-hop tree"
# Every scored check of @modelcontextprotocol/conformance 0.1.16 (--suite active) and
# 0.2.0-alpha.12 (--requirements 2025-11-25 and 2026-07-28) must pass; a failure fails.
scripts/conformance.sh
echo "== cargo bench --no-run"
cargo bench --no-run
# The leaf_server example it launches was built by `cargo test --workspace --all-targets`.
echo "== canopy bench --quick (smoke test: timings are printed, never checked)"
cargo run --quiet -p canopy-cli -- bench --quick
