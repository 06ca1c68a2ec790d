"""The connector's MCP server in process, through the SDK's own client, as a given user.

The bearer token the HTTP layer would have verified is put in the SDK's auth context, carrying
the user as our verifier's does (without a catalogue version, so every call reads it), so the
tools see a user exactly as they do behind /mcp. Tools run the ORM in worker threads, on their
own connections, so tests using this need committed data (transactional_db).
"""
import anyio
from mcp import Client
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.types import Implementation

from connector.server import build_server
from connector.verifier import VerifiedToken

CLIENT = Implementation(name="Test client", version="1.0")
# The protocol revisions clients speak, and how the official client is pinned to each: its
# initialize handshake offers 2025-11-25; 2026-07-28 (stateless, no handshake) it adopts directly.
PROTOCOLS = {"2025-11-25": "legacy", "2026-07-28": "2026-07-28"}


def session(user, steps, protocol="2025-11-25"):
    """Run `steps(client)` in an MCP session authenticated as `user`, speaking `protocol`; return what it returns."""

    async def run():
        token = VerifiedToken(token="in-process", client_id="test-client", scopes=["skills:read"],
                              subject=str(user.pk), claims={"client_name": "Test client"}, user=user)
        reset = auth_context_var.set(AuthenticatedUser(token))
        try:
            async with Client(build_server(), mode=PROTOCOLS[protocol], client_info=CLIENT) as client:
                assert client.protocol_version == protocol
                return await steps(client)
        finally:
            auth_context_var.reset(reset)

    return anyio.run(run)


def call(user, tool, arguments=None, protocol="2025-11-25"):
    return session(user, lambda client: client.call_tool(tool, arguments or {}), protocol=protocol)
