"""Stand-ins for the MNIST files and their server, for the tests of the loader and of its files:
IDX payloads, fake MNIST arrays the loader is told to expect, and a local HTTP server."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from twolayer import datasets

# The four MNIST files, without .gz.
NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file holding `array` (uint8, big-endian int32 or big-endian float64)."""
    code = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f8"): 0x0E}[array.dtype]
    return (
        bytes([0, 0, code, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


def write_files(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def fake_mnist(
    monkeypatch, train: int, test: int, side: int
) -> tuple[dict[str, np.ndarray], dict[str, bytes]]:
    """Random stand-ins for the four MNIST arrays and their IDX payloads (keyed by file name,
    without .gz); the loader is told their shapes and digests."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_img": rng.integers(0, 256, (train, side, side), dtype=np.uint8),
        "train_label": rng.integers(0, 10, train, dtype=np.uint8),
        "test_img": rng.integers(0, 256, (test, side, side), dtype=np.uint8),
        "test_label": rng.integers(0, 10, test, dtype=np.uint8),
    }
    specs, payloads = {}, {}
    for key, spec in datasets._MNIST.items():
        payload = idx_bytes(arrays[key])
        specs[key] = dataclasses.replace(
            spec, shape=arrays[key].shape, sha256=hashlib.sha256(payload).hexdigest()
        )
        payloads[spec.name] = payload
    monkeypatch.setattr(datasets, "_MNIST", specs)
    return arrays, payloads


class Server:
    """A real HTTP server on 127.0.0.1 (port 0), in a thread, serving `files` by name; other names
    get 404.

    A body is bytes, or a function ``body(write, stopped)`` that writes it piece by piece (sent
    without a Content-Length, as the connection closing ends it) and must return once the `stopped`
    event is set: bodies that stall or never end stop by themselves when the server does, or when
    the client hangs up. `declared` overrides the Content-Length sent for a name, to cut a transfer
    short or announce a huge one.
    """

    def __init__(self, files: dict, declared: dict[str, int] | None = None):
        self.files, self.declared, self.requests = files, declared or {}, []
        self.stopped = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                owner.requests.append(name)
                if name not in owner.files:
                    self.send_error(404)
                    return
                body = owner.files[name]
                self.send_response(200)
                if callable(body):
                    self.end_headers()
                    with contextlib.suppress(OSError):  # the client hung up
                        body(self._write, owner.stopped)
                    return
                self.send_header("Content-Length", str(owner.declared.get(name, len(body))))
                self.end_headers()
                self.wfile.write(body)

            def _write(self, data: bytes) -> None:
                self.wfile.write(data)
                self.wfile.flush()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/mnist"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.stopped.set()
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
