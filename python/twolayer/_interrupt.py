"""Ctrl-C held back while a training step updates the parameters, and delivered after it."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["CtrlCDeferral"]


class CtrlCDeferral:
    """Holds SIGINT back inside ``with`` blocks (one update and one mini-batch loss: well under a
    second), then delivers it to the handler that was in place; outside them a SIGINT goes to that
    handler at once.

    One handler serves the whole run (``installed()``): setting a handler and restoring it around
    every step cost 20 µs a step, 0.2 s of the book's 10,000 steps. Only the main thread receives
    signals; elsewhere, or when the handler in place was not set from Python (and could not be
    restored), it does nothing.
    """

    def __init__(self) -> None:
        self._holding = False
        self._held: list[Any] = []  # the frame of a SIGINT received while holding
        self._previous: Any = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[CtrlCDeferral]:
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is not threading.main_thread() or previous is None:
            yield self
            return
        self._previous = signal.signal(signal.SIGINT, self._received)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _received(self, signum: int, frame: Any) -> None:
        if self._holding:
            self._held.append(frame)
        else:
            self._deliver(signum, frame)

    def _deliver(self, signum: int, frame: Any) -> None:
        if callable(self._previous):
            self._previous(signum, frame)  # default_int_handler raises KeyboardInterrupt here
        elif self._previous == signal.SIG_DFL:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.raise_signal(signal.SIGINT)
        # SIG_IGN: ignored, as it would have been

    def __enter__(self) -> None:
        self._holding = True

    def __exit__(self, *exc: object) -> None:
        self._holding = False
        if self._held:
            frame = self._held.pop()
            self._held.clear()
            self._deliver(signal.SIGINT, frame)
