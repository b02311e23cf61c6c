"""The server of ``twolayer draw``: the page's three files, and ``POST /predict`` of a canvas
picture (PNG) that answers the net's probabilities and the 28×28 sample it saw, as JSON.

The standard library's ThreadingHTTPServer is enough for one person's browser on this machine, and
every bound is ours to set: what it serves is three files held in memory (looked up by exact path,
so nothing outside them can be named), a body over :data:`MAX_BODY` is refused from its
Content-Length before a byte of it is read, each connection has :data:`REQUEST_TIMEOUT` seconds in
all (a client sending one byte a second is cut off too), and at most :data:`MAX_CONNECTIONS` are
served at once.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import numpy as np

from ..images import image_to_mnist
from ..net import TwoLayerNet

__all__ = ["MAX_BODY", "MAX_CONNECTIONS", "REQUEST_TIMEOUT", "DrawServer", "predict_picture"]

MAX_BODY = 2**20
"""Bytes a request body may have: the page's 280×280 canvas is a few kilobytes as PNG, and a large
one a few hundred."""
MAX_PICTURE_PIXELS = 2048 * 2048
"""Pixels a posted picture may have, checked from its header before it is decoded."""
REQUEST_TIMEOUT = 10.0
"""Seconds a connection may take in all: a browser on this machine takes milliseconds."""
MAX_CONNECTIONS = 32
"""Connections served at once; more are closed unanswered."""

_ASSETS = {  # route: (file in static/, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/draw.js": ("draw.js", "text/javascript; charset=utf-8"),
    "/draw.css": ("draw.css", "text/css; charset=utf-8"),
}
# The browser may load nothing but the page's own files (and the empty icon written into the page).
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class DrawServer(ThreadingHTTPServer):
    """The page of `net` at `host`:`port` (0: any free port); :attr:`url` says where. Serve with
    ``serve_forever()``; ``shutdown()`` from another thread stops it, ``server_close()`` frees the
    port."""

    daemon_threads = True  # a connection still open never holds up the end of the program
    # socketserver's backlog of 5 would leave a burst of connections waiting for SYN retries.
    request_queue_size = MAX_CONNECTIONS

    def __init__(
        self,
        net: TwoLayerNet,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.net = net
        self.request_timeout = request_timeout
        static = resources.files(__package__) / "static"
        self.assets = {
            route: ((static / name).read_bytes(), kind) for route, (name, kind) in _ASSETS.items()
        }
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: it would have released the slot
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-request is no error of the server's; anything else is printed.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def predict_picture(net: TwoLayerNet, png: bytes) -> dict[str, Any]:
    """The net's reading of a PNG picture of a digit: ``digit``, the ten ``probabilities`` and
    ``sample``, the 784 values in [0, 1] that it saw (:func:`twolayer.images.image_to_mnist`).
    ValueError if it is no PNG, is larger than :data:`MAX_PICTURE_PIXELS` or holds no ink."""
    from PIL import Image

    try:
        picture = Image.open(io.BytesIO(png), formats=("PNG",))  # the header only
        width, height = picture.size
        if width * height > MAX_PICTURE_PIXELS:
            raise ValueError(
                f"the picture is {width}×{height} pixels, more than {MAX_PICTURE_PIXELS:,}"
            )
        picture.load()
    except (
        OSError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ValueError(f"the body is not a PNG picture: {exc}") from None
    sample = image_to_mnist(picture)
    probabilities = net.predict(sample)
    return {
        "digit": int(np.argmax(probabilities)),
        "probabilities": [float(p) for p in probabilities],
        "sample": [round(float(v), 3) for v in sample],
    }


class _Handler(BaseHTTPRequestHandler):
    server: DrawServer
    server_version = "twolayer-draw"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.request_timeout)  # each read and write
        # And the whole connection: one slow byte at a time must not hold a thread for ever either.
        self._deadline = threading.Timer(self.server.request_timeout, self._cut_off)
        self._deadline.daemon = True
        self._deadline.start()

    def finish(self) -> None:
        self._deadline.cancel()
        with contextlib.suppress(OSError):  # the client may be gone
            super().finish()

    def _cut_off(self) -> None:
        with contextlib.suppress(OSError):
            # The handler's blocked read or write returns.
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        asset = self.server.assets.get(self.path.split("?", 1)[0])
        if asset is None:
            self.send_error(HTTPStatus.NOT_FOUND)
        else:
            self._reply(HTTPStatus.OK, *asset)

    def do_POST(self) -> None:
        if self.path != "/predict":
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        body = self._body()
        if body is None:
            return
        try:
            result = predict_picture(self.server.net, body)
        except ValueError as exc:
            self._reply_json(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(exc)})
        else:
            self._reply_json(HTTPStatus.OK, result)

    def _body(self) -> bytes | None:
        """The request's PNG body, or None once an error is sent: the length is checked before
        anything is read."""
        length = self.headers.get("Content-Length")
        if self.headers.get("Content-Type") != "image/png":
            self.send_error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body must be image/png")
        elif length is None:
            self.send_error(HTTPStatus.LENGTH_REQUIRED)
        elif not length.strip().isdigit():
            self.send_error(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length!r}")
        elif int(length) > MAX_BODY:
            self.send_error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a body may have {MAX_BODY:,} bytes"
            )
        else:
            body = self.rfile.read(int(length))
            if len(body) == int(length):
                return body
            self.send_error(HTTPStatus.BAD_REQUEST, "the body is shorter than its Content-Length")
        self.close_connection = True
        return None

    def _reply_json(self, status: HTTPStatus, document: dict[str, Any]) -> None:
        self._reply(status, json.dumps(document).encode(), "application/json")

    def _reply(self, status: HTTPStatus, content: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # a line per stroke would bury the URL; errors are still printed (log_error)
