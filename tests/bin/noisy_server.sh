#!/bin/sh
# A leaf server that first writes a line to stderr and a garbage line to stdout, then
# becomes the `leaf_server` demo server named by $1 (its path comes in $LEAF_SERVER).
echo "noisy server starting" >&2
echo "this is not JSON-RPC"
exec "$LEAF_SERVER" "$@"
