"""How large a run's history.json may be, and how large it is at most: the bound that
:class:`~twolayer.history.History`'s writer and reader share, which a run's settings are checked
against before it starts, so that no run ends with a history too large to be read back."""

from __future__ import annotations

from ._losses import INLINE_LOSSES

__all__ = ["MAX_HISTORY_BYTES", "json_bytes_at_most", "most_evaluations"]

# A history takes about 20 bytes of JSON per iteration; beyond INLINE_LOSSES (about 22 MB of them)
# the losses go beside it (see _losses), so that this bound holds any run's history while keeping
# what a corrupt or hostile file can make the reader parse to a few hundred MB of Python objects.
MAX_HISTORY_BYTES = 64 * 2**20

# The longest JSON of a float, "-2.2250738585072014e-308", and the ", " after it.
_FLOAT_BYTES = 26
# Everything but the lists and the seed: field names, settings, final accuracies (about 1 KB).
_OTHER_BYTES = 4096


def json_bytes_at_most(iterations: int, evaluations: int, seed: int | None) -> int:
    """The most bytes a history.json of a run of `iterations` iterations, `evaluations` evaluations
    and `seed` takes, every number in it at its longest: the losses it holds itself (those of a run
    of up to INLINE_LOSSES iterations), and three accuracies, a time and an iteration an
    evaluation."""
    inline = iterations if iterations <= INLINE_LOSSES else 0
    fixed = _OTHER_BYTES + len(str(seed)) + inline * _FLOAT_BYTES
    return fixed + evaluations * _evaluation_bytes(iterations)


def most_evaluations(iterations: int, seed: int | None) -> int:
    """The most evaluations a history.json of a run of `iterations` iterations and `seed` holds
    within MAX_HISTORY_BYTES."""
    room = MAX_HISTORY_BYTES - json_bytes_at_most(iterations, 0, seed)
    return max(room, 0) // _evaluation_bytes(iterations)


def _evaluation_bytes(iterations: int) -> int:
    return 4 * _FLOAT_BYTES + len(str(iterations)) + len(", ")
