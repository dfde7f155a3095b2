"""Drives `canopy serve` of the mixed test tree (see crates/canopy-cli/tests/serve_mixed.rs)
with the official Python MCP SDK, over Streamable HTTP (a URL) or stdio (a command).

Usage: tree_client.py MODE URL            (MODE: legacy | auto)
       tree_client.py MODE -- CMD ARGS...

Prints `ok <check>` per passed check; exits non-zero with a message on the first failure.
"""

import os
import sys

import anyio
from mcp import Client, StdioServerParameters, types


def expect(condition, message):
    if not condition:
        print(f"FAILED: {message}", flush=True)
        sys.exit(1)


async def main(mode: str, target) -> None:
    asked: list[str] = []

    async def on_elicit(context, params):
        asked.append(params.message)
        if "color" in params.message:
            return types.ElicitResult(action="accept", content={"color": "amber"})
        return types.ElicitResult(action="accept", content={})

    async with Client(target, mode=mode, elicitation_callback=on_elicit) as client:
        print(f"ok protocol {client.protocol_version}", flush=True)
        names = [tool.name for tool in (await client.list_tools()).tools]
        for expected in ["research__deep__web__search", "research__deep__py__ask_color", "research__deep__remote__analyze"]:
            expect(expected in names, f"{expected} in {names}")
        print("ok list_tools", flush=True)

        progress = []

        async def on_progress(value, total, message):
            progress.append(value)

        result = await client.call_tool(
            "research__deep__remote__analyze", {"steps": 5, "step_ms": 5}, progress_callback=on_progress
        )
        expect(result.content[0].text == "analysis complete after 5 steps", f"{result}")
        expect(progress == [1.0, 2.0, 3.0, 4.0, 5.0], f"progress from the HTTP leaf at depth 3: {progress}")
        print("ok progress_depth_3_http", flush=True)

        result = await client.call_tool("research__deep__py__ask_color", {})
        expect(result.content[0].text == "favourite color: amber", f"{result}")
        expect("What is your favourite color?" in asked, f"{asked}")
        print("ok elicitation_python_leaf", flush=True)

        result = await client.call_tool("research__deep__web__search", {"query": "rust"})
        expect(result.content[0].text == "https://example.org/rust", f"{result}")
        print("ok stdio_rust_leaf", flush=True)

        result = await client.call_tool("research__deep__py__add", {"a": 20, "b": 22})
        expect(result.content[0].text == "42.0", f"{result}")
        print("ok stdio_python_leaf", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if sys.argv[2] == "--":
        # The SDK passes only a safe subset of the environment by default; the tree file
        # reads its paths from ours.
        target = StdioServerParameters(command=sys.argv[3], args=sys.argv[4:], env=dict(os.environ))
    else:
        target = sys.argv[2]
    anyio.run(main, mode, target)
