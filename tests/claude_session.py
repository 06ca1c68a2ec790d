"""What a Claude Code session tells the model about the skills it loaded: the runtime's own answer.

`claude plugin details` lists a plugin's skills by a reading of its own, and it is not always the runtime's (it lists
a `skills/.mcpb-cache` folder, which the session's loader leaves out). A session says which skills it loaded in the
first request it sends to the model: "The following skills are available for use with the Skill tool:", one line a
skill, `- <plugin>:<skill>: <description>` (`- <plugin>:<skill> (<plugin>:<shown>): ...` where it is shown by another
name). These machines cannot reach Anthropic's API, so the session is pointed at
a recorder on loopback (`ANTHROPIC_BASE_URL`), which keeps each request and answers 400 so that `claude -p` stops at
once (about half a second).
"""
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTING = "The following skills are available for use with the Skill tool:\n\n"
MAX_BODY_BYTES = 50_000_000


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        if length <= MAX_BODY_BYTES:
            self.server.bodies.append(self.rfile.read(length))
        answer = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": "recorded"}})
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args):
        pass


def skills_offered(claude, env: dict, cwd) -> dict[str, str]:
    """Starts a session of the Claude Code at `claude` (its HOME in `env`, plugins already installed there) in
    `cwd`: the skills it offered the model, {`<plugin>:<skill>` (or a skill of its own, by name): description}."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        subprocess.run(
            [str(claude), "-p", "hi"], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
            env={**env, "ANTHROPIC_API_KEY": "sk-ant-recorded",
                 "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{server.server_port}"},
        )
    finally:
        server.shutdown()
        server.server_close()
    listing = next((text for body in server.bodies for text in _texts(json.loads(body)) if LISTING in text), None)
    assert listing is not None, f"no request listed skills ({len(server.bodies)} recorded)"
    offered = {}
    for line in listing.split(LISTING, 1)[1].split("\n\n", 1)[0].splitlines():
        name, _, description = line.removeprefix("- ").partition(": ")
        offered[name.split(" (", 1)[0]] = description
    return offered


def _texts(value):
    """Every string in a request's JSON."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)

