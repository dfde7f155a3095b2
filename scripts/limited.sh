#!/usr/bin/env bash
# Runs a command under a process limit: every process and thread it starts, and theirs, is
# counted against CANOPY_PROCESS_LIMIT (default 4096) in a pids cgroup of its own, so a test
# that forks without end fails instead of taking the machine down. When the command ends,
# whatever it left running is listed and ended by its id, and the cgroup is removed.
# Root is exempt from `ulimit -u`, so the cgroup is the limit that holds for CI; without a
# writable pids cgroup (a non-root user) `ulimit -u` is used instead.
# Usage: scripts/limited.sh CMD [ARGS...]
set -uo pipefail
limit="${CANOPY_PROCESS_LIMIT:-4096}"

cgroup=""
for base in /sys/fs/cgroup/pids /sys/fs/cgroup/unified /sys/fs/cgroup; do
  [ -w "$base" ] || continue
  # cgroup v2 hands out `pids` only where the parent's subtree_control enables it.
  if [ -f "$base/cgroup.subtree_control" ] && ! grep -qw pids "$base/cgroup.subtree_control"; then
    continue
  fi
  dir="$base/canopy-tests-$$"
  if mkdir "$dir" 2>/dev/null; then
    if echo "$limit" >"$dir/pids.max" 2>/dev/null; then
      cgroup="$dir"
      break
    fi
    rmdir "$dir" 2>/dev/null
  fi
done

if [ -z "$cgroup" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "limited.sh: no writable pids cgroup, and root ignores ulimit -u: running without a process limit" >&2
  else
    echo "limited.sh: process limit $limit (ulimit -u)" >&2
    ulimit -u "$limit"
  fi
  "$@"
  exit $?
fi

echo "limited.sh: process limit $limit (pids cgroup $cgroup)" >&2
bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' limited "$cgroup" "$@"
status=$?

left=$(cat "$cgroup/cgroup.procs" 2>/dev/null)
if [ -n "$left" ]; then
  echo "limited.sh: processes left running after the command, ended now:" >&2
  for pid in $left; do
    echo "  $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
  done
  for pid in $left; do kill -TERM "$pid" 2>/dev/null; done
  sleep 1
  for pid in $(cat "$cgroup/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  sleep 0.2
fi
rmdir "$cgroup" 2>/dev/null || echo "limited.sh: could not remove $cgroup" >&2
exit "$status"
