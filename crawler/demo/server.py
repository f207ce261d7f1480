"""Serve the bundled demo news site ("The Demo Gazette") over HTTP on loopback.

Standard library only. ``/x/`` serves ``x/index.html``; ``/x`` redirects to ``/x/`` when ``x`` is
a directory; ``{{BASE}}`` in ``.xml``/``.txt`` files becomes the server's base URL; responses
carry ``ETag``/``Last-Modified`` (conditional requests get 304) and are gzipped on request.

    python -m crawler.demo.server [--host 127.0.0.1] [--port 8642]
"""

from __future__ import annotations

import argparse
import errno
import gzip
import hashlib
import signal
import sys
import threading
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from urllib.parse import unquote, urlsplit

SITE_DIR = Path(__file__).resolve().parent / "site"
# `make crawl` serves the site here every time, so a second run sees the same URLs and takes
# the incremental path (conditional requests, seen-store) instead of a site it never met.
DEMO_PORT = 8642

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    "feed.xml": "application/rss+xml",
}
NOT_FOUND = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Page not found'
    b' | The Demo Gazette</title></head>\n<body><h1>Page not found</h1><p><a href="/">Go to'
    b" the home page</a></p></body></html>\n"
)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "DemoGazette/1.0"
    timeout = 30  # seconds an idle keep-alive connection may hold a thread

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the request log is kept in ``DemoServer.requests`` instead."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            status = int(code)
        except ValueError:
            status = 0
        self.server.owner.record(self.command or "", self.path, status)

    def _serve(self, head: bool) -> None:
        target = self._resolve(urlsplit(self.path).path)
        if target is None:
            self._send(HTTPStatus.NOT_FOUND, NOT_FOUND, "text/html; charset=utf-8", head)
        elif isinstance(target, str):
            self._send(HTTPStatus.MOVED_PERMANENTLY, b"", "text/html", head, {"Location": target})
        else:
            self._send_file(target, head)

    def _resolve(self, raw_path: str) -> Path | str | None:
        """The file to serve, a redirect location (str), or None for 404."""
        path = unquote(raw_path)
        if not path.startswith("/") or "\x00" in path or ".." in path.split("/"):
            return None
        root = self.server.root
        try:
            target = (root / path.lstrip("/")).resolve()
        except (OSError, ValueError):
            return None
        if not target.is_relative_to(root):
            return None
        if target.is_dir():
            if not path.endswith("/"):
                query = urlsplit(self.path).query
                return raw_path + "/" + (f"?{query}" if query else "")
            target = target / "index.html"
        return target if target.is_file() else None

    def _send_file(self, target: Path, head: bool) -> None:
        body = target.read_bytes()
        if target.suffix in (".xml", ".txt"):
            body = body.replace(b"{{BASE}}", self.server.owner.base_url.encode())
        mtime = int(target.stat().st_mtime)
        ctype = CONTENT_TYPES.get(target.name) or CONTENT_TYPES.get(
            target.suffix, "application/octet-stream"
        )
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        gzipped = "gzip" in self.headers.get("Accept-Encoding", "").lower()
        if gzipped:
            etag = etag[:-1] + '-gzip"'
        extra = {
            "ETag": etag,
            "Last-Modified": formatdate(mtime, usegmt=True),
            "Vary": "Accept-Encoding",
            "Cache-Control": "max-age=60",
        }
        if self._not_modified(etag, mtime):
            self._send(HTTPStatus.NOT_MODIFIED, b"", None, head, extra)
            return
        if gzipped:
            body = gzip.compress(body, mtime=0)
            extra["Content-Encoding"] = "gzip"
        self._send(HTTPStatus.OK, body, ctype, head, extra)

    def _not_modified(self, etag: str, mtime: int) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or etag in tags or etag.replace("-gzip", "") in tags
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                return mtime <= parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False
        return False

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        ctype: str | None,
        head: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if ctype is not None:  # None: a 304, which has neither body nor Content-Length
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], root: Path, owner: DemoServer) -> None:
        self.root = root
        self.owner = owner
        super().__init__(address, _Handler)


class PortInUseError(OSError):
    """The port asked for is taken: said in one line, with what to do about it."""


class DemoServer:
    """The demo site on a local port, served from a daemon thread; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, root: Path = SITE_DIR) -> None:
        self.host = host
        self.port = port
        self.root = Path(root).resolve()
        self.base_url = ""
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def start(self) -> DemoServer:
        if self._httpd is not None:
            return self
        try:
            self._httpd = _HTTPServer((self.host, self.port), self.root, self)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortInUseError(
                exc.errno,
                f"port {self.port} on {self.host} is in use (another demo server?); "
                "choose another with --port N",
            ) from None
        self.port = self._httpd.server_address[1]
        shown = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        self.base_url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="demo-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the demo news site until interrupted.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEMO_PORT, help="0: any free port")
    args = parser.parse_args(argv)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        server = DemoServer(args.host, args.port).start()
    except PortInUseError as exc:
        print(f"demo server: {exc.strerror}", file=sys.stderr)
        return 1
    with server:
        print(server.base_url, flush=True)
        while not stopping.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
