#!/usr/bin/env bash
# The test command (README quick start): installs what the tests need, then runs every check.
# Each scripts/setup/*.sh installs one thing (idempotently) and appends the variables the
# tests read to .tools/test.env. A missing tool is an error, never a skip.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mkdir -p .tools
: > .tools/test.env
for setup in scripts/setup/*.sh; do
  echo "== setup: $setup"
  bash "$setup"
done

# The checks run under a process limit (scripts/limited.sh): a pids cgroup of their own.
exec bash scripts/limited.sh bash scripts/checks.sh
