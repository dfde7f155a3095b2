"""Drives a served Canopy tree (the `serve_tree` example) with the official Python MCP SDK.

Usage: stdio_client.py SERVER_BINARY MODE   (MODE: "legacy" = initialize handshake,
"auto" = server/discover, i.e. 2026-07-28 with fallback)

Prints one `ok <check>` line per passed check and exits non-zero with a message on the
first failure, so the Rust test that runs it can assert on both.
"""

import sys

import anyio
from mcp import Client, StdioServerParameters, types


def expect(condition, message):
    if not condition:
        print(f"FAILED: {message}", flush=True)
        sys.exit(1)


async def main(binary: str, mode: str) -> None:
    elicitations: list[str] = []

    async def on_elicit(context, params):
        elicitations.append(params.message)
        if "name" in params.message:
            return types.ElicitResult(action="accept", content={"name": "Lin"})
        return types.ElicitResult(action="accept", content={})

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    server = StdioServerParameters(command=binary, args=[])
    async with Client(server, mode=mode, elicitation_callback=on_elicit) as client:
        print(f"ok protocol {client.protocol_version}", flush=True)
        tools = await client.list_tools()
        names = [tool.name for tool in tools.tools]
        expect("research__lab__crunch__analyze" in names, f"tools/list: {names}")
        expect("faulty__broken" not in names, "denied tool hidden")
        print("ok list_tools", flush=True)

        result = await client.call_tool(
            "research__lab__crunch__analyze", {"steps": 4, "step_ms": 5}, progress_callback=on_progress
        )
        expect(result.content[0].text == "analysis complete after 4 steps", f"analyze: {result}")
        expect([p[0] for p in progress] == [1.0, 2.0, 3.0, 4.0], f"progress from depth 3: {progress}")
        expect(progress[-1][2] == "step 4 of 4", f"progress message: {progress}")
        print("ok progress_depth_3", flush=True)

        greeting = await client.call_tool("notes__greet", {})
        expect(greeting.content[0].text == "Hello, Lin!", f"greet: {greeting}")
        print("ok elicitation", flush=True)

        written = await client.call_tool("notes__write_note", {"text": "from python"})
        expect(written.content[0].text == "1 notes", f"ask policy: {written}")
        expect(any("Allow the call to 'notes/write_note'" in m for m in elicitations), f"{elicitations}")
        print("ok ask_policy", flush=True)

        try:
            await client.call_tool("no_such_tool", {})
            expect(False, "unknown tool accepted")
        except Exception as error:  # noqa: BLE001 - the SDK raises its own error type
            expect("unknown tool 'no_such_tool'" in str(error), f"unknown tool error: {error}")
        print("ok unknown_tool", flush=True)

        resources = await client.list_resources()
        uris = [str(r.uri) for r in resources.resources]
        expect(uris == ["canopy://notes/notes://all"], f"resources: {uris}")
        read = await client.read_resource("canopy://notes/notes://all")
        expect(read.contents[0].text == "from python", f"read: {read}")
        print("ok resources", flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
