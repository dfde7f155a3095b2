"""Calls `ask`-policy tools of a served tree with the official Python MCP SDK and *no*
elicitation callback, so the client cannot answer permission prompts.

Usage: unanswerable_client.py MODE URL   (MODE: legacy | auto)

The tree (crates/canopy-cli/tests/unanswerable_python.rs) asks about `notes/write_note` with
on_unanswerable = "deny", and about `notes/read_notes` with on_unanswerable = "allow".
Prints `ok <check>` per passed check; exits non-zero with a message on the first failure.
"""

import sys

import anyio
from mcp import Client


def expect(condition, message):
    if not condition:
        print(f"FAILED: {message}", flush=True)
        sys.exit(1)


async def main(mode: str, url: str) -> None:
    async with Client(url, mode=mode) as client:
        print(f"ok protocol {client.protocol_version}", flush=True)
        refused = await client.call_tool("notes__write_note", {"text": "x"})
        text = refused.content[0].text
        expect(refused.is_error, f"refused: {refused}")
        expect(
            text.startswith(
                "The call to 'notes/write_note' needs the user's approval ('(root)' asks for "
                "'notes/write_note'), but this client cannot answer permission prompts"
            ),
            f"refusal: {text}",
        )
        print("ok refused", flush=True)
        read = await client.call_tool("notes__read_notes", {})
        expect(not read.is_error, f"read: {read}")
        expect(read.content[0].text == "", f"nothing was written: {read}")
        print("ok allowed_unasked", flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
