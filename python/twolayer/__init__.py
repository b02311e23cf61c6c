"""twolayer: the two-layer network of *Deep Learning from Scratch* (ch. 4.5) on a fast C++ core.

>>> from twolayer import TwoLayerNet
>>> net = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
>>> grads = net.gradient(x_batch, t_batch)          # doctest: +SKIP
>>> for key in ("W1", "b1", "W2", "b2"):              # doctest: +SKIP
...     net.params[key] -= 0.1 * grads[key]
"""

from __future__ import annotations

try:
    from . import _core  # noqa: F401 - fails here, with the message below, when it is not built
except ImportError as exc:  # pragma: no cover - only without a built extension
    raise ImportError(
        "twolayer's C++ extension (twolayer._core) is not built. Install the package with "
        "`pip install .` from the project root (or, for development, `pip install "
        "--no-build-isolation -Cbuild-dir=build -e .`)."
    ) from exc

from ._config import show_config
from ._threads import get_num_threads, set_num_threads
from ._version import __version__ as __version__
from .net import TwoLayerNet

__all__ = ["TwoLayerNet", "get_num_threads", "set_num_threads", "show_config"]
