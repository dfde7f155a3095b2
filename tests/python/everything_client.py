"""Calls the TypeScript reference server's `trigger-elicitation-request` through a served
Canopy tree with the official Python MCP SDK, and answers its form.

Usage: everything_client.py REVISION -- CMD ARGS...
  REVISION: 2025-06-18 (initialize, elicitation/create) | 2026-07-28 (input_required)

Prints `ok <check>` per passed check; exits non-zero with a message on the first failure.
"""

import os
import sys

import anyio
import mcp.client.session
from mcp import Client, StdioServerParameters, types


def expect(condition, message):
    if not condition:
        print(f"FAILED: {message}", flush=True)
        sys.exit(1)


async def main(revision: str, target) -> None:
    asked = []

    async def on_elicit(context, params):
        asked.append(params)
        return types.ElicitResult(action="accept", content={"name": "Ada", "check": True})

    if revision == "2026-07-28":
        mode = "auto"
    else:
        # The SDK's handshake offers its newest session revision: offer the older one.
        mcp.client.session.LATEST_HANDSHAKE_VERSION = revision
        mode = "legacy"
    async with Client(target, mode=mode, elicitation_callback=on_elicit) as client:
        expect(client.protocol_version == revision, f"protocol {client.protocol_version}")
        print(f"ok protocol {client.protocol_version}", flush=True)
        result = await client.call_tool("ts__everything__trigger-elicitation-request", {})
        texts = "\n".join(block.text for block in result.content if hasattr(block, "text"))
        expect(len(asked) == 1, f"one elicitation, got {len(asked)}: {texts}")
        schema = asked[0].requested_schema
        properties = schema["properties"] if isinstance(schema, dict) else schema.properties
        expect(len(properties) == 13, f"13 fields: {list(properties)}")
        expect(properties["email"]["format"] == "email", f"{properties['email']}")
        print("ok form", flush=True)
        expect("- Name: Ada" in texts and "- Agreed to terms: True".lower() in texts.lower(), texts)
        print("ok answered", flush=True)


if __name__ == "__main__":
    revision = sys.argv[1]
    expect(sys.argv[2] == "--", "usage: everything_client.py REVISION -- CMD ARGS...")
    target = StdioServerParameters(command=sys.argv[3], args=sys.argv[4:], env=dict(os.environ))
    anyio.run(main, revision, target)
