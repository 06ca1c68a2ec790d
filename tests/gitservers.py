"""Remotes on loopback for the network tests: git over HTTP, and ports that never answer."""
import socket
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Listener:
    """A TCP port on 127.0.0.1 that accepts connections, counts them, and never says a word."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections, self._open = 0, []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.connections += 1
            self._open.append(conn)
            self.accepted(conn)

    def accepted(self, conn):
        """What else to do with a connection it holds open: nothing, here."""

    def all_closed(self, within: float) -> bool:
        """Has every client closed its connection (read to the end) within `within` seconds?"""
        deadline = time.monotonic() + within
        for conn in self._open:
            try:
                while True:
                    conn.settimeout(max(deadline - time.monotonic(), 0.01))
                    if not conn.recv(65536):
                        break
            except OSError:  # timed out: still open
                return False
        return True

    def close(self):
        self.sock.close()
        for conn in self._open:
            conn.close()


class SilentRedis(Listener):
    """A Redis that takes connections and commands and never answers, as a hung or cut-off one does: what
    each connection has sent, while it stays open."""

    def __init__(self):
        self.received = {}  # an open connection: the bytes it sent
        super().__init__()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def accepted(self, conn):
        threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        self.received[conn] = b""
        try:
            while chunk := conn.recv(4096):
                self.received[conn] += chunk
        except OSError:
            pass  # closed here
        del self.received[conn]

    def waiting(self):
        """How many connections have sent a command and are still waiting for its answer."""
        return sum(bool(sent) for sent in list(self.received.values()))


class GitHTTPServer:
    """Bare repositories served over git's "dumb" HTTP protocol (plain files), on 127.0.0.1.

    `answer(path)` may hold a request (block) or replace it: it returns None to serve the file,
    or (status, headers) to answer with that instead. Every request's path is kept in `requests`.
    """

    def __init__(self, root, answer=None):
        self.root, self.answer, self.requests = root, answer, []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                replaced = server.answer(self.path) if server.answer else None
                if replaced is None:
                    return super().do_GET()
                status, headers = replaced
                self.send_response(status)
                for name, value in {"Content-Length": "0", **headers}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args):
                pass

        root.mkdir(parents=True, exist_ok=True)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def publish(self, repo, name) -> str:
        """Serve `repo` (a tests.builders.GitRepo) as NAME.git; return its URL."""
        bare = self.root / f"{name}.git"
        subprocess.run(["git", "clone", "--bare", "--quiet", "--no-local", str(repo.path), str(bare)], check=True)
        subprocess.run(["git", "--git-dir", str(bare), "update-server-info"], check=True)
        return f"http://127.0.0.1:{self.port}/{name}.git"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
