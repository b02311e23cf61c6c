"""The network of the tests of the loop's bookkeeping (sampling, hold-out, evaluation, the
history), which learns nothing and records every row it is given, and its data, whose rows carry
their ids."""

from __future__ import annotations

import numpy as np


class RecordingNet:
    """A network with the book's interface (params, gradient, numerical_gradient, loss, accuracy) that learns nothing
    and records the rows it is given. Each row of the data carries its sample's id in column 0."""

    def __init__(self):
        self.params = {
            "W1": np.zeros((2, 3)),
            "b1": np.zeros(3),
            "W2": np.zeros((3, 4)),
            "b2": np.zeros(4),
        }
        self.trained: list[np.ndarray] = []  # the ids of each mini-batch
        self.measured: list[np.ndarray] = []  # the ids of each accuracy call, in order

    def gradient(self, x, t):
        self.trained.append(x[:, 0].astype(int))
        return {key: np.zeros_like(value) for key, value in self.params.items()}

    numerical_gradient = gradient

    def loss(self, x, t):
        return 1.0

    def accuracy(self, x, t):
        self.measured.append(x[:, 0].astype(int))
        return 0.5


def id_data(n_train=103, n_test=20):
    """Training samples with ids 0..n_train-1 and test samples with negative ids."""
    x_train = np.stack([np.arange(n_train), np.ones(n_train)], axis=1)
    x_test = np.stack([-1 - np.arange(n_test), np.ones(n_test)], axis=1)
    return x_train, np.zeros(n_train, dtype=int), x_test, np.zeros(n_test, dtype=int)
