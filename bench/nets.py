"""What bench/run.py times: the book's training loop, the book's numerical gradient on a subset of
parameters, and the same network in PyTorch. The three implementations share one API (the book's),
so the loop below runs each of them unchanged."""

from __future__ import annotations

import numpy as np

KEYS = ("W1", "b1", "W2", "b2")


def train_like_the_book(net, x_train, t_train, x_test, t_test, batches, learning_rate=0.1,
                        iter_per_epoch=600, numerical=False, fused=False):
    """ch04/train_neuralnet.py: SGD on the given mini-batches (rows of `batches`), recording each
    mini-batch's loss and, every `iter_per_epoch` iterations, the accuracy on all of the train and
    test images. Returns (train_loss_list, train_acc_list, test_acc_list). `fused`: each step in
    one call of net.train_step, as twolayer.training.train takes them (the labels converted to the
    net's dtype once, as train does)."""
    train_loss_list, train_acc_list, test_acc_list = [], [], []
    t_for_steps = t_train.astype(net.dtype) if fused else t_train
    for i, batch_mask in enumerate(batches):
        if fused:
            train_loss_list.append(net.train_step(x_train, t_for_steps, learning_rate, indices=batch_mask))
        else:
            x_batch = x_train[batch_mask]
            t_batch = t_train[batch_mask]
            grad = net.numerical_gradient(x_batch, t_batch) if numerical else net.gradient(x_batch, t_batch)
            for key in KEYS:
                net.params[key] -= learning_rate * grad[key]
            train_loss_list.append(net.loss(x_batch, t_batch))
        if i % iter_per_epoch == 0:
            train_acc_list.append(net.accuracy(x_train, t_train))
            test_acc_list.append(net.accuracy(x_test, t_test))
    return train_loss_list, train_acc_list, test_acc_list


def book_numerical_gradient_subset(net, x, t, picks, h=1e-4):
    """The book's numerical_gradient (perturb one parameter by ±h, evaluate the whole loss, restore)
    for only the parameters `picks`, a list of (key, flat index). Returns their values, in order."""
    values = []
    for key, i in picks:
        p = net.params[key].reshape(-1)  # a view: perturbing it perturbs the net
        saved = p[i]
        p[i] = saved + h
        f_plus = net.loss(x, t)
        p[i] = saved - h
        f_minus = net.loss(x, t)
        p[i] = saved
        values.append((f_plus - f_minus) / (2 * h))
    return np.array(values)


class TorchNet:
    """The two-layer network in PyTorch with the book's API: params (tensors, updated in place by
    the book's loop), predict, loss, accuracy and gradient on NumPy inputs. The gradient is the
    book's backprop written in torch ops, which measured faster here than autograd."""

    def __init__(self, params, dtype):
        import torch

        self.torch = torch
        self.dtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
        self.params = {k: torch.tensor(np.asarray(params[k]), dtype=self.dtype) for k in KEYS}

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
