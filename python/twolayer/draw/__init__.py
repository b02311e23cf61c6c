"""``twolayer draw``: a page on this machine to draw digits on with the mouse, a finger or a pen,
and see a trained network's probabilities change as you draw. Everything it loads ships in this
package (``static/``)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import webbrowser
from typing import Any

from .._flags import add_network_argument, new_command
from .server import DrawServer, predict_picture

__all__ = ["DrawServer", "add_command", "predict_picture"]

DEFAULT_PORT = 8028


def add_command(commands: Any) -> None:
    """Add ``twolayer draw`` to the subcommands `commands` of the ``twolayer`` parser."""
    parser = new_command(
        commands,
        "draw",
        _draw,
        help="a page to draw digits on, with the network's guess as you draw",
        description=(
            "Serve a page with a canvas: draw a digit with the mouse, a finger or a pen and see "
            "the likeliest digit, the ten probabilities and the 28x28 picture the network saw. "
            "The page works offline, and listens on this machine only unless --host says "
            "otherwise. Ctrl-C stops it."
        ),
    )
    add_network_argument(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="port to listen on, 0 for any free one (default: %(default)s)",
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")


def _draw(args: argparse.Namespace) -> int:
    from ..inspection import load_mnist_net

    try:
        net = load_mnist_net(args.params)
    except (OSError, ValueError) as exc:  # the message names the file
        print(f"twolayer: error: {exc}", file=sys.stderr)
        return 1
    try:
        server = DrawServer(net, args.host, args.port)
    except OSError as exc:  # an address in use, or not this machine's
        print(
            f"twolayer: error: cannot listen on {args.host} port {args.port}: {exc} "
            "(--port 0 takes any free port)",
            file=sys.stderr,
        )
        return 1
    with server:
        print(f"Drawing page of {server.net!r} at {server.url} (Ctrl-C stops it)", flush=True)
        if not _is_loopback(args.host):
            print(f"twolayer: anyone who can reach {args.host} can use the page", flush=True)
        if not args.no_browser and _has_display():
            webbrowser.open(server.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Stopped.", flush=True)
    return 0


def _has_display() -> bool:
    """Whether a graphical browser can open here: without a display (say, over SSH) Python's
    webbrowser would run a text browser in this terminal."""
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return port
