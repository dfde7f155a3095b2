#!/bin/sh
# Appends its PID to $PID_FILE, then becomes the `leaf_server` demo server named by $1 (its
# path in $LEAF_SERVER): lets a test find the child processes a tree started.
echo $$ >> "$PID_FILE"
exec "$LEAF_SERVER" "$@"
