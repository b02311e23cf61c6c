"""The mini-batches of a training run, drawn so that a checkpoint can continue them."""

from __future__ import annotations

import numpy as np

__all__ = ["Batches"]


class Batches:
    """The row indices of each mini-batch, endlessly, and where the drawing stands, so that a
    checkpoint can continue it: the generator, the shuffled order of the epoch under way and the
    position in it, and the batch drawn for an iteration not yet done (`pending`)."""

    def __init__(
        self, sampling: str, rng: np.random.Generator, train_size: int, batch_size: int
    ) -> None:
        self.shuffle, self.rng = sampling == "shuffle", rng
        self.train_size, self.batch_size = train_size, batch_size
        self.order: np.ndarray | None = None
        self.position = 0
        self.pending: np.ndarray | None = None

    def draw(self) -> np.ndarray:
        """The next iteration's batch, pending until :meth:`done`: drawn again, it is the same."""
        if self.pending is not None:
            return self.pending
        if not self.shuffle:
            # The book's rng.choice(train_size, batch_size): the same draws (NumPy's choice with
            # replacement calls integers), without choice's checks, 4 µs of every step.
            self.pending = self.rng.integers(0, self.train_size, self.batch_size)
            return self.pending
        if self.order is None or self.position >= self.train_size:
            self.order, self.position = self.rng.permutation(self.train_size), 0
        # The last one short if batch_size does not divide train_size.
        self.pending = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return self.pending

    def done(self) -> None:
        self.pending = None
