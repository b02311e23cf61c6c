"""The network in PyTorch, for bench/run.py: the book's API, so that twolayer.reference's training
loop runs it unchanged beside the C++ core and the NumPy reference."""

from __future__ import annotations

import numpy as np

from twolayer._core import PARAM_NAMES


class TorchNet:
    """The two-layer network in PyTorch with the book's API: params (tensors, updated in place by
    the book's loop), predict, loss, accuracy and gradient on NumPy inputs. The gradient is the
    book's backprop written in torch ops, which measured faster here than autograd."""

    def __init__(self, params, dtype):
        import torch

        self.torch = torch
        self.dtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
        self.params = {
            k: torch.tensor(np.asarray(params[k]), dtype=self.dtype) for k in PARAM_NAMES
        }

    def _tensor(self, a):
        return self.torch.from_numpy(np.asarray(a)).to(self.dtype)

    def _forward(self, x):
        p = self.params
        z1 = self.torch.sigmoid(x @ p["W1"] + p["b1"])
        return z1, self.torch.softmax(z1 @ p["W2"] + p["b2"], dim=1)

    def _labels(self, t):
        t = np.asarray(t)
        return t.argmax(axis=1) if t.ndim == 2 else t

    def predict(self, x):
        with self.torch.no_grad():
            return self._forward(self._tensor(x))[1].numpy()

    def loss(self, x, t):
        with self.torch.no_grad():
            y = self._forward(self._tensor(x))[1]
            labels = self.torch.from_numpy(self._labels(t).astype(np.int64))
            return float(-self.torch.log(y[self.torch.arange(y.shape[0]), labels] + 1e-7).mean())

    def accuracy(self, x, t):
        with self.torch.no_grad():
            y = self._forward(self._tensor(x))[1].argmax(dim=1).numpy()
        return float(np.mean(y == self._labels(t)))

    def gradient(self, x, t):
        torch = self.torch
        with torch.no_grad():
            x = self._tensor(x)
            t = np.asarray(t)
            z1, y = self._forward(x)
            if t.ndim == 1:
                t = np.eye(y.shape[1])[t]
            dy = (y - self._tensor(t)) / x.shape[0]
            da1 = (dy @ self.params["W2"].T) * z1 * (1 - z1)
            return {"W1": x.T @ da1, "b1": da1.sum(0), "W2": z1.T @ dy, "b2": dy.sum(0)}
