"""Drives canopy-sql with the official Python MCP SDK.

Usage: python_client.py BINARY DATA_DIR

Over stdio: initialize, list tools, call query (structured + text), a refused write, read a
resource, get a prompt, complete a table name. Then the same server over Streamable HTTP
(`--http 127.0.0.1:0`): initialize, list tools, call query. Prints one `ok: ...` line per
check and `N passed, 0 failed` at the end; exits non-zero on the first failure.
"""

import asyncio
import json
import re
import subprocess
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

passed = 0


def check(condition, what):
    global passed
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    passed += 1
    print(f"ok: {what}", flush=True)


async def exercise(session: ClientSession, transport: str) -> None:
    init = await session.initialize()
    check(init.server_info.name == "canopy-sql", f"{transport}: initialize reports canopy-sql")
    tools = await session.list_tools()
    names = sorted(t.name for t in tools.tools)
    check(names == ["describe_table", "explain", "list_tables", "query", "sample_rows"], f"{transport}: tools/list")
    result = await session.call_tool(
        "query",
        {"sql": "SELECT status, count(*) AS n FROM orders WHERE status = ? GROUP BY status", "params": ["pending"]},
    )
    check(not result.is_error, f"{transport}: query succeeded")
    structured = result.structured_content
    check(structured["rows"] == [["pending", structured["rows"][0][1]]], f"{transport}: structured rows")
    check(structured["columns"][1]["name"] == "n", f"{transport}: structured columns")
    check(result.content[0].text.startswith("| status  | n"), f"{transport}: text table")


async def stdio(binary: str, data_dir: str) -> None:
    params = StdioServerParameters(command=binary, args=["--data-dir", data_dir])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await exercise(session, "stdio")
            refused = await session.call_tool("query", {"sql": "DELETE FROM orders"})
            check(refused.is_error and "read-only" in refused.content[0].text, "stdio: write refused as isError")
            resources = await session.list_resources()
            uris = [str(r.uri) for r in resources.resources]
            check("sql://tables/main/orders" in uris, "stdio: resources/list")
            read = await session.read_resource("sql://tables/main/orders")
            schema = json.loads(read.contents[0].text)
            check(schema["name"] == "orders" and schema["columns"][0]["name"] == "id", "stdio: resources/read")
            prompt = await session.get_prompt("summarize_table", {"table": "customers"})
            check("customers" in prompt.messages[0].content.text, "stdio: prompts/get")
            completion = await session.complete(
                types.PromptReference(type="ref/prompt", name="summarize_table"),
                {"name": "table", "value": "cust"},
            )
            check(completion.completion.values == ["customers"], "stdio: completion/complete")


async def http(binary: str, data_dir: str) -> None:
    proc = subprocess.Popen(
        [binary, "--data-dir", data_dir, "--http", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        for _ in range(20):
            line = proc.stderr.readline()
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                url = match.group(1)
                break
        check(url is not None, "http: server printed its address")
        async with streamable_http_client(url) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await exercise(session, "http")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def main() -> None:
    binary, data_dir = sys.argv[1], sys.argv[2]
    await stdio(binary, data_dir)
    await http(binary, data_dir)
    print(f"{passed} passed, 0 failed")


asyncio.run(main())
