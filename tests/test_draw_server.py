"""twolayer draw's server: its files, its predictions, and bad requests (too large, malformed, unknown paths,
traversal, slow clients) answered without a crash; the command's clean stop on Ctrl-C."""

from __future__ import annotations

import contextlib
import errno
import http.client
import io
import json
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest
from pictures import digit_picture

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.datasets import image_to_mnist
from twolayer.draw import DrawServer
from twolayer.draw.server import MAX_BODY, MAX_CONNECTIONS

TIMEOUT = 1.0  # the server's for a whole request, short for the tests


@pytest.fixture(scope="module")
def net():
    return TwoLayerNet(784, 20, 10, seed=0)


@pytest.fixture
def server(net):
    server = DrawServer(net, "127.0.0.1", 0, request_timeout=TIMEOUT)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def raw(server, data: bytes, *, close_write: bool = True) -> bytes:
    """Send `data` as it is and return all the server answers before it closes the connection."""
    with socket.create_connection(server.server_address[:2], timeout=5) as connection:
        connection.sendall(data)
        if close_write:
            connection.shutdown(socket.SHUT_WR)
        return _read_all(connection)


def _read_all(connection: socket.socket) -> bytes:
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return answer


def status(answer: bytes) -> int:
    """The status of an answer; of its error page where it has no status line (http.server answers a request line
    without a version, HTTP/0.9's, in HTTP/0.9: the page alone)."""
    if answer.startswith(b"HTTP/"):
        return int(answer.split(b" ", 2)[1])
    found = re.search(rb"Error code: (\d+)", answer)
    assert found, answer[:200]
    return int(found[1])


def get(server, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def post(server, body: bytes, content_type: str = "image/png") -> tuple[int, dict]:
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
    try:
        connection.request("POST", "/predict", body, {"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def png(picture) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def serves(server) -> bool:
    """Whether the server serves its page now (False while every slot is still taken: the
    connection is closed unanswered)."""
    try:
        code, _, body = get(server, "/")
    except OSError:  # http.client.RemoteDisconnected among them
        return False
    return code == 200 and b'id="prediction"' in body


def test_the_page_and_its_files(server):
    for path, kind in [("/", "text/html"), ("/draw.js", "text/javascript"), ("/draw.css", "text/css"),
                       ("/?from=bookmark", "text/html")]:  # fmt: skip
        code, headers, body = get(server, path)
        assert code == 200 and headers["Content-Type"].startswith(kind) and body
        assert "default-src 'self'" in headers["Content-Security-Policy"]
    html = get(server, "/")[2].decode()
    assert 'src="draw.js"' in html and 'href="draw.css"' in html
    assert "http" not in html.replace('name="viewport"', "")  # no address outside the server


def test_a_picture_is_read_as_predict_reads_it(server, net):
    rng = np.random.default_rng(0)
    sample = (rng.random(784) > 0.7).astype(np.float32)
    picture = digit_picture(sample, 200, (280, 280), (40, 40))
    code, result = post(server, png(picture))
    expected = net.predict(image_to_mnist(picture))
    assert code == 200 and result["digit"] == expected.argmax()
    np.testing.assert_allclose(result["probabilities"], expected, rtol=1e-12)
    np.testing.assert_allclose(result["sample"], image_to_mnist(picture), atol=5e-4)


@pytest.mark.parametrize(
    "path",
    ["/nope", "/index.html", "/static/index.html", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
     "/draw.js/../../__init__.py", "//etc/passwd", "/..%2fserver.py", "\\..\\server.py", "/predict"],
)  # fmt: skip
def test_only_its_own_files_are_served(server, path):
    answer = raw(server, f"GET {path} HTTP/1.0\r\n\r\n".encode())
    assert status(answer) == 404 and b"root:" not in answer and b"import" not in answer
    assert serves(server)


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
        (b"GET / HTTP/1.0\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.0\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431),
        (b"DELETE / HTTP/1.0\r\n\r\n", 501),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64), 400),  # a TLS hello
        (b"POST /predict HTTP/1.0\r\nContent-Type: image/png\r\n\r\n", 411),
        (b"POST /predict HTTP/1.0\r\nContent-Type: image/png\r\nContent-Length: -5\r\n\r\n", 400),
        (b"POST /predict HTTP/1.0\r\nContent-Type: image/png\r\nContent-Length: 1e3\r\n\r\n", 400),
        (b"POST /predict HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", 415),
        (b"POST /predict HTTP/1.0\r\nContent-Type: image/png\r\nContent-Length: 9\r\n\r\nabc", 400),
        (b"POST /predict HTTP/1.0\r\nContent-Type: image/png\r\nContent-Length: 3\r\n\r\nabc", 422),
    ],
)
def test_malformed_requests_get_a_4xx_and_the_server_goes_on(server, request_bytes, code):
    assert status(raw(server, request_bytes)) == code
    assert serves(server)


def test_a_body_too_large_is_refused_before_it_is_read(server):
    headers = f"POST /predict HTTP/1.0\r\nContent-Type: image/png\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
    start = time.monotonic()
    # No body sent: the server must not wait for one.
    answer = raw(server, headers.encode(), close_write=False)
    assert status(answer) == 413 and time.monotonic() - start < TIMEOUT / 2
    assert serves(server)


def _png_header(width: int, height: int) -> bytes:
    """A PNG claiming `width`×`height` pixels, cut off at the start of its data."""
    chunks = [b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0), b"IDAT" + bytes(10)]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
        for chunk in chunks
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_png_header(3000, 3000), "3000×3000 pixels, more than 4,194,304"),
        (_png_header(100_000, 100_000), "decompression bomb"),  # Pillow's own refusal
        (_png_header(28, 28), "not a PNG picture"),  # truncated
        (b"GIF89a" + bytes(20), "not a PNG picture"),
        (None, "holds no ink"),
    ],
)
def test_pictures_it_cannot_read_are_422_with_the_reason(server, body, message):
    if body is None:
        from PIL import Image

        body = png(Image.new("L", (280, 280), 255))
    code, result = post(server, body)
    assert code == 422 and message in result["error"]
    assert serves(server)


def test_slow_clients_are_cut_off(server):
    """One that sends nothing, and one that sends a byte at a time too slowly to finish in time."""
    start = time.monotonic()
    with socket.create_connection(server.server_address[:2], timeout=5) as silent:
        assert _read_all(silent) == b""
    assert TIMEOUT * 0.8 < time.monotonic() - start < TIMEOUT * 3
    start = time.monotonic()
    with socket.create_connection(server.server_address[:2], timeout=5) as dripping:
        with contextlib.suppress(OSError):  # the server may close while we write
            for byte in b"GET / HTTP/1.0\r\n" + b"X-Slow: " + b"a" * 100:
                dripping.send(bytes([byte]))
                time.sleep(TIMEOUT / 10)
        assert b"200 OK" not in _read_all(dripping)
    assert time.monotonic() - start < TIMEOUT * 3
    assert serves(server)


def test_connections_beyond_the_limit_are_closed_and_the_server_recovers(net):
    with DrawServer(net, "127.0.0.1", 0, request_timeout=30) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        idle = [
            socket.create_connection(server.server_address[:2], timeout=5)
            for _ in range(MAX_CONNECTIONS)
        ]
        try:
            time.sleep(0.5)  # every idle connection taken up by a thread
            try:  # closed unanswered: nothing read, or a reset (the request was left unread)
                assert raw(server, b"GET / HTTP/1.0\r\n\r\n") == b""
            except OSError as exc:
                assert exc.errno in (errno.ECONNRESET, errno.ENOTCONN, errno.EPIPE), exc
        finally:
            for connection in idle:
                connection.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not serves(server):
            time.sleep(0.1)
        assert serves(server)
        server.shutdown()
        thread.join(5)


def test_ctrl_c_stops_the_command_cleanly(tmp_path):
    TwoLayerNet(784, 20, 10, seed=0).save(tmp_path / "params.npz")
    command = [sys.executable, "-m", "twolayer", "draw", str(tmp_path / "params.npz"), "--port", "0",
               "--no-browser"]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        try:
            line = child.stdout.readline()
            assert (
                line.startswith("Drawing page of TwoLayerNet(") and "(Ctrl-C stops it)" in line
            ), line
            url = line.split(" at ", 1)[1].split()[0]
            host, port = url.removeprefix("http://").rstrip("/").split(":")
            assert host == "127.0.0.1"
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            connection.request("GET", "/")
            assert connection.getresponse().status == 200
            connection.close()
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=20)
        finally:
            if child.poll() is None:
                child.kill()
    assert (child.returncode, out.strip()) == (0, "Stopped."), (child.returncode, out, err)
    assert "Traceback" not in err, err
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5)


def test_command_errors(tmp_path, capsys):
    assert main(["draw", str(tmp_path / "none.npz"), "--no-browser"]) == 1
    assert "none.npz" in capsys.readouterr().err
    TwoLayerNet(784, 5, 10).save(tmp_path / "params.npz")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert (
            main(["draw", str(tmp_path / "params.npz"), "--port", str(port), "--no-browser"]) == 1
        )
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1 port {port}" in err and "--port 0" in err
    with pytest.raises(SystemExit):
        main(["draw", str(tmp_path / "params.npz"), "--port", "70000"])
    assert "must be a port number from 0 to 65535, got '70000'" in capsys.readouterr().err
