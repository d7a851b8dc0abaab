"""Centred finite differences, the reference every analytic gradient is checked against."""

import numpy as np


def numerical_grad(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """d f() / d x by (f(x + h) - f(x - h)) / 2h, one element at a time; x is modified and restored."""
    g = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        fp = f()
        x[ix] = old - h
        fm = f()
        x[ix] = old  # restore
        g[ix] = (fp - fm) / (2 * h)
    return g
