"""A leaf server written with the official Python MCP SDK (`MCPServer`, formerly FastMCP),
mounted under Canopy trees in the tests and examples.

Tools: `add` (two numbers), `slow_count` (progress at every step), `ask_color` (asks the
user through elicitation), `whisper` (logs at info level). Runs over stdio.
"""

import anyio
from pydantic import BaseModel

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("py-leaf")


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
async def slow_count(steps: int, ctx: Context) -> str:
    """Count to `steps`, reporting progress at every step."""
    for step in range(1, steps + 1):
        await anyio.sleep(0.01)
        await ctx.report_progress(step, steps, f"counted {step}")
    return f"counted to {steps}"


class Color(BaseModel):
    color: str


@server.tool()
async def ask_color(ctx: Context) -> str:
    """Ask the user for their favourite color."""
    result = await ctx.elicit("What is your favourite color?", Color)
    if result.action == "accept" and result.data is not None:
        return f"favourite color: {result.data.color}"
    return f"no color ({result.action})"


@server.tool()
async def whisper(text: str, ctx: Context) -> str:
    """Log `text` at info level, then answer."""
    await ctx.info(text)
    return "whispered"


if __name__ == "__main__":
    server.run()
