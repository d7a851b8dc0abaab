"""Layers: each keeps its backward beside its forward.

Every layer has
  - ``build(in_shape, rng, dtype) -> out_shape``: allocate parameters for an input of per-example
    shape ``in_shape`` (no batch axis);
  - ``forward(x, training) -> y`` and ``backward(dy, need_dx=True) -> dx`` (``None`` when not needed);
    ``backward`` writes parameter gradients into ``self.grads`` (arrays allocated once, updated in place,
    so an optimizer may hold on to them);
  - ``params`` / ``grads`` (trainable, same keys) and ``buffers`` (saved but not trained, e.g. the
    running statistics of batch normalisation);
  - ``config()``: the JSON-able constructor arguments, so ``LAYER_TYPES[kind](**config)`` rebuilds it.

Images travel channels-last: ``x: (N, H, W, C)``; the MNIST input itself is ``(N, 784)`` and a
``Reshape`` layer turns it into ``(N, 28, 28, 1)`` for convolutional networks. Channels-last keeps the
im2col matrix products contiguous without transposes.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Layer:
    kind: ClassVar[str] = ""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.dtype = np.dtype(np.float32)

    def build(self, in_shape: tuple[int, ...], rng: np.random.Generator, dtype) -> tuple[int, ...]:
        self.dtype = np.dtype(dtype)
        return in_shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def config(self) -> dict:
        return {}

    def _alloc_grads(self) -> None:
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def astype(self, dtype) -> None:
        """Convert parameters, gradients and buffers in place (float64 for gradient checks)."""
        self.dtype = np.dtype(dtype)
        for d in (self.params, self.buffers):
            for k in d:
                d[k] = d[k].astype(dtype)
        self._alloc_grads()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------------------------------------
# Dense


def init_weights(rng: np.random.Generator, fan_in: int, fan_out: int, shape, init: str, dtype):
    """He (ReLU nets) or Xavier/Glorot (sigmoid, tanh) normal initialisation."""
    if init == "he":
        std = math.sqrt(2.0 / fan_in)
    elif init == "xavier":
        std = math.sqrt(2.0 / (fan_in + fan_out))
    elif init == "nielsen":  # network2.py's "default_weight_initializer": N(0, 1/fan_in)
        std = math.sqrt(1.0 / fan_in)
    else:
        raise ValueError(f"unknown initialisation {init!r} (expected he, xavier or nielsen)")
    return (rng.standard_normal(shape) * std).astype(dtype)


class Dense(Layer):
    """y = x W + b.   x: (N, n_in) -> y: (N, units)."""

    kind = "dense"

    def __init__(self, units: int, init: str = "he") -> None:
        super().__init__()
        if int(units) < 1:
            raise ValueError(f"a dense layer needs at least one unit, got {units}")
        self.units = int(units)
        self.init = init

    def build(self, in_shape, rng, dtype):
        super().build(in_shape, rng, dtype)
        if len(in_shape) != 1:
            raise ValueError(f"dense layer expects flat input, got per-example shape {in_shape}; add a flatten")
        n_in = in_shape[0]
        self.params = {
            "W": init_weights(rng, n_in, self.units, (n_in, self.units), self.init, self.dtype),
            "b": np.zeros(self.units, self.dtype),
        }
        self._alloc_grads()
        return (self.units,)

    def forward(self, x, training=False):
        self._x = x
        y = x @ self.params["W"]
        y += self.params["b"]
        return y

    def backward(self, dy, need_dx=True):
        np.matmul(self._x.T, dy, out=self.grads["W"])  # (n_in, N) @ (N, units)
        np.sum(dy, axis=0, out=self.grads["b"])
        return dy @ self.params["W"].T if need_dx else None

    def config(self):
        return {"units": self.units, "init": self.init}


# ---------------------------------------------------------------------------------------------
# Activations


class ReLU(Layer):
    kind = "relu"

    def forward(self, x, training=False):
        self._y = np.maximum(x, 0)
        return self._y

    def backward(self, dy, need_dx=True):
        return dy * (self._y > 0)


class Sigmoid(Layer):
    kind = "sigmoid"

    def forward(self, x, training=False):
        # 0.5 (1 + tanh(x/2)) equals 1 / (1 + e^-x) but never overflows.
        y = np.tanh(x * 0.5)
        y += 1
        y *= 0.5
        self._y = y
        return y

    def backward(self, dy, need_dx=True):
        y = self._y
        return dy * y * (1 - y)


class Tanh(Layer):
    kind = "tanh"

    def forward(self, x, training=False):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy, need_dx=True):
        return dy * (1 - self._y * self._y)


# ---------------------------------------------------------------------------------------------
# Regularisation and shape


class Dropout(Layer):
    """Inverted dropout: at training time zero a fraction ``p`` and scale the rest by 1/(1-p)."""

    kind = "dropout"

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng: np.random.Generator | None = None

    def build(self, in_shape, rng, dtype):
        super().build(in_shape, rng, dtype)
        self.rng = rng
        return in_shape

    def forward(self, x, training=False):
        if not training or self.p == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.p
        # float32 uniforms are half the cost of float64 ones
        self._mask = (self.rng.random(x.shape, dtype=np.float32) < keep).astype(x.dtype)
        self._mask *= 1.0 / keep
        return x * self._mask

    def backward(self, dy, need_dx=True):
        return dy if self._mask is None else dy * self._mask

    def config(self):
        return {"p": self.p}


class Reshape(Layer):
    """Per-example reshape, e.g. (784,) -> (28, 28, 1)."""

    kind = "reshape"

    def __init__(self, shape) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def build(self, in_shape, rng, dtype):
        super().build(in_shape, rng, dtype)
        if math.prod(in_shape) != math.prod(self.shape):
            raise ValueError(f"cannot reshape {in_shape} into {self.shape}")
        self._in_shape = tuple(in_shape)
        return self.shape

    def forward(self, x, training=False):
        return x.reshape((x.shape[0], *self.shape))

    def backward(self, dy, need_dx=True):
        return dy.reshape((dy.shape[0], *self._in_shape))

    def config(self):
        return {"shape": list(self.shape)}


class Flatten(Layer):
    """(N, ...) -> (N, prod(...))."""

    kind = "flatten"

    def build(self, in_shape, rng, dtype):
        super().build(in_shape, rng, dtype)
        self._in_shape = tuple(in_shape)
        return (math.prod(in_shape),)

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, need_dx=True):
        return dy.reshape((dy.shape[0], *self._in_shape))


# ---------------------------------------------------------------------------------------------
# Convolution and pooling (channels-last)


class Conv2D(Layer):
    """2-D convolution, stride 1 (cross-correlation, as every framework computes it).

    x: (N, H, W, C) -> y: (N, Ho, Wo, F); W: (k, k, C, F), b: (F,).
    ``padding="valid"``: Ho = H - k + 1; ``"same"``: Ho = H (k odd).
    Forward is im2col + one matrix product; backward is one product for dW and one for the column
    gradient, scattered back onto the input with k*k strided adds (no loop over pixels or images).
    """

    kind = "conv2d"

    def __init__(self, filters: int, kernel: int = 5, padding: str = "valid", init: str = "he") -> None:
        super().__init__()
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        if int(kernel) < 1 or (padding == "same" and int(kernel) % 2 == 0):
            raise ValueError(f"kernel size {kernel} is not usable with padding {padding!r}")
        self.filters, self.kernel, self.padding, self.init = int(filters), int(kernel), padding, init

    def build(self, in_shape, rng, dtype):
        super().build(in_shape, rng, dtype)
        if len(in_shape) != 3:
            raise ValueError(f"conv2d expects (H, W, C) input, got {in_shape}; add a reshape")
        h, w, c = in_shape
        k, f = self.kernel, self.filters
        self.pad = (k - 1) // 2 if self.padding == "same" else 0
        ho, wo = h + 2 * self.pad - k + 1, w + 2 * self.pad - k + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"a {k}x{k} kernel does not fit a {h}x{w} input")
        self.params = {
            "W": init_weights(rng, k * k * c, k * k * f, (k, k, c, f), self.init, self.dtype),
            "b": np.zeros(f, self.dtype),
        }
        self._alloc_grads()
        return (ho, wo, f)

    def _padded(self, x):
        p = self.pad
        if p == 0:
            return x
        n, h, w, c = x.shape
        xp = np.zeros((n, h + 2 * p, w + 2 * p, c), x.dtype)
        xp[:, p:p + h, p:p + w, :] = x
        return xp

    def forward(self, x, training=False):
        k = self.kernel
        xp = self._padded(x)
        n, hp, wp, c = xp.shape
        ho, wo = hp - k + 1, wp - k + 1
        # (N, Ho, Wo, C, k, k) view -> (N, Ho, Wo, k, k, C) -> one copy into rows of k*k*C
        win = sliding_window_view(xp, (k, k), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)
        cols = win.reshape(n * ho * wo, k * k * c)
        self._cols, self._xshape = cols, x.shape
        y = cols @ self.params["W"].reshape(k * k * c, -1)
        y += self.params["b"]
        return y.reshape(n, ho, wo, -1)

    def backward(self, dy, need_dx=True):
        k, p = self.kernel, self.pad
        n, ho, wo, f = dy.shape
        dy2 = dy.reshape(-1, f)
        W = self.params["W"]
        c = W.shape[2]
        np.matmul(self._cols.T, dy2, out=self.grads["W"].reshape(k * k * c, f))
        np.sum(dy2, axis=0, out=self.grads["b"])
        if not need_dx:
            return None
        dcols = (dy2 @ W.reshape(k * k * c, f).T).reshape(n, ho, wo, k, k, c)
        _, h, w, _ = self._xshape
        dxp = np.zeros((n, h + 2 * p, w + 2 * p, c), dy.dtype)
        for i in range(k):
            for j in range(k):
                dxp[:, i:i + ho, j:j + wo, :] += dcols[:, :, :, i, j, :]
        return dxp[:, p:p + h, p:p + w, :] if p else dxp

    def config(self):
        return {"filters": self.filters, "kernel": self.kernel, "padding": self.padding, "init": self.init}


class MaxPool2D(Layer):
    """Non-overlapping max pooling. x: (N, H, W, C) -> (N, H//s, W//s, C); odd edges are dropped."""

    kind = "maxpool2d"

    def __init__(self, size: int = 2) -> None:
        super().__init__()
        if int(size) < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self.size = int(size)

    def build(self, in_shape, rng, dtype):
        super().build(in_shape, rng, dtype)
        if len(in_shape) != 3:
            raise ValueError(f"maxpool2d expects (H, W, C) input, got {in_shape}")
        h, w, c = in_shape
        s = self.size
        if h < s or w < s:
            raise ValueError(f"a {s}x{s} pool does not fit a {h}x{w} input")
        return (h // s, w // s, c)

    def forward(self, x, training=False):
        s = self.size
        n, h, w, c = x.shape
        ho, wo = h // s, w // s
        xs = x[:, : ho * s, : wo * s, :].reshape(n, ho, s, wo, s, c)
        y = xs.max(axis=(2, 4))
        # first maximum of each window gets the gradient (ties are broken like argmax)
        win = xs.transpose(0, 1, 3, 5, 2, 4).reshape(n, ho, wo, c, s * s)
        self._arg = win.argmax(axis=-1)
        self._xshape = x.shape
        return y

    def backward(self, dy, need_dx=True):
        s = self.size
        n, h, w, c = self._xshape
        ho, wo = h // s, w // s
        onehot = self._arg[..., None] == np.arange(s * s)            # (N, Ho, Wo, C, s*s)
        dwin = onehot * dy[..., None]
        dx = np.zeros(self._xshape, dy.dtype)
        dx[:, : ho * s, : wo * s, :] = (
            dwin.reshape(n, ho, wo, c, s, s).transpose(0, 1, 4, 2, 5, 3).reshape(n, ho * s, wo * s, c)
        )
        return dx

    def config(self):
        return {"size": self.size}


class BatchNorm(Layer):
    """Batch normalisation over every axis but the last (features, or channels of an image).

    Training uses the batch statistics and updates running ones (momentum 0.9); inference uses the
    running statistics, so a single drawn digit is normalised the same way as a batch.
    """

    kind = "batchnorm"

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = float(momentum), float(eps)

    def build(self, in_shape, rng, dtype):
        super().build(in_shape, rng, dtype)
        c = in_shape[-1]
        self.params = {"gamma": np.ones(c, self.dtype), "beta": np.zeros(c, self.dtype)}
        self.buffers = {"mean": np.zeros(c, self.dtype), "var": np.ones(c, self.dtype)}
        self._alloc_grads()
        return in_shape

    def forward(self, x, training=False):
        c = x.shape[-1]
        x2 = x.reshape(-1, c)
        if training:
            mean = x2.mean(axis=0)
            var = x2.var(axis=0)
            m = self.momentum
            self.buffers["mean"] *= m
            self.buffers["mean"] += (1 - m) * mean
            self.buffers["var"] *= m
            self.buffers["var"] += (1 - m) * var
        else:
            mean, var = self.buffers["mean"], self.buffers["var"]
        inv = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        xhat = (x2 - mean) * inv
        self._xhat, self._inv, self._training = xhat, inv, training
        y = xhat * self.params["gamma"] + self.params["beta"]
        return y.reshape(x.shape)

    def backward(self, dy, need_dx=True):
        c = dy.shape[-1]
        dy2 = dy.reshape(-1, c)
        xhat = self._xhat
        np.sum(dy2 * xhat, axis=0, out=self.grads["gamma"])
        np.sum(dy2, axis=0, out=self.grads["beta"])
        if not need_dx:
            return None
        if not self._training:  # fixed running statistics: a per-channel affine map
            return (dy2 * (self.params["gamma"] * self._inv)).reshape(dy.shape)
        m = dy2.shape[0]
        # dx = gamma * inv / m * (m dy - sum(dy) - xhat * sum(dy xhat))
        dx = (self.params["gamma"] * self._inv / m) * (m * dy2 - self.grads["beta"] - xhat * self.grads["gamma"])
        return dx.reshape(dy.shape)

    def config(self):
        return {"momentum": self.momentum, "eps": self.eps}


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.kind: cls
    for cls in (Dense, ReLU, Sigmoid, Tanh, Dropout, Reshape, Flatten, Conv2D, MaxPool2D, BatchNorm)
}


def layer_from_config(entry: dict) -> Layer:
    """``{"type": "dense", "units": 10}`` -> ``Dense(units=10)``; ValueError on anything unknown."""
    if not isinstance(entry, dict) or "type" not in entry:
        raise ValueError(f"a layer entry must be an object with a 'type', got {entry!r}")
    kind = entry["type"]
    cls = LAYER_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown layer type {kind!r} (known: {', '.join(sorted(LAYER_TYPES))})")
    args = {k: v for k, v in entry.items() if k != "type"}
    try:
        return cls(**args)
    except TypeError as exc:
        raise ValueError(f"bad arguments for layer {kind!r}: {exc}") from None
