"""Losses: each returns the mean loss over the batch and its gradient with respect to the network output.

``ce``: softmax + cross-entropy on logits (the softmax is fused into the loss, as numpy-ml does:
        dlogits = (softmax - onehot) / N).
``mse``: Nielsen's quadratic cost C = 1/(2N) sum ||a - y||^2 on the outputs themselves (put a sigmoid
        layer last for network.py's sigmoid + quadratic cost of chapter 1).
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """(N, K) -> (N, K) rows summing to 1."""
    z = logits - logits.max(axis=1, keepdims=True)  # stability; softmax is shift-invariant
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """logits (N, K) float; labels (N,) int in [0, K) -> (mean loss, dlogits (N, K))."""
    # ufunc reductions called directly: np.max / np.sum / np.mean add a Python wrapper each (a few
    # microseconds, a tenth of a small network's training step)
    n = logits.shape[0]
    z = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
    e = np.exp(z)
    s = np.add.reduce(e, axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.add.reduce(np.log(s[:, 0]) - z[rows, labels])) / n
    e /= s
    e[rows, labels] -= 1
    e /= n
    return loss, e


def mean_squared_error(outputs: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """outputs (N, K); labels (N,) int -> (1/(2N) sum ||a - onehot||^2, (a - onehot) / N)."""
    n = outputs.shape[0]
    diff = outputs.copy()
    diff[np.arange(n), labels] -= 1
    flat = diff.reshape(-1)
    loss = 0.5 * float(np.dot(flat, flat)) / n
    diff /= n
    return loss, diff


LOSSES = {"ce": softmax_cross_entropy, "mse": mean_squared_error}


def outputs_to_probabilities(outputs: np.ndarray, loss: str) -> np.ndarray:
    """Network outputs -> (N, K) probabilities: softmax of logits (ce), or the sigmoid outputs
    rescaled to sum to 1 (mse, whose outputs are independent per-class scores in [0, 1])."""
    if loss == "ce":
        return softmax(outputs.astype(np.float64, copy=True)).astype(outputs.dtype)
    a = np.clip(outputs, 0, None).astype(np.float64)
    total = a.sum(axis=1, keepdims=True)
    k = a.shape[1]
    return np.where(total > 0, a / np.where(total > 0, total, 1), 1.0 / k).astype(outputs.dtype)
