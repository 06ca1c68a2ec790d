"""The baseline for bench/mcp.py: a bare MCPServer with one in-memory tool, served as /mcp is.

Its `search_skills` returns a payload captured from Skillport's own (BENCH_MCP_PAYLOAD, a JSON
file), so both servers send the same bytes and the ratio isolates what Skillport adds: the
token check, visibility, search and serialising the result.
"""
import json
import os
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

PAYLOAD = json.loads(Path(os.environ["BENCH_MCP_PAYLOAD"]).read_text())
server = MCPServer(name="bare")


@server.tool()
def search_skills(query: str, limit: int = 10) -> dict[str, Any]:
    return PAYLOAD


application = server.streamable_http_app(json_response=True, stateless_http=True)
