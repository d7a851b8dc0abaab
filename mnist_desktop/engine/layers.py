"""Layers: each keeps its backward beside its forward.

Every layer has
  - ``build(in_shape, rng, dtype) -> out_shape``: allocate parameters for an input of per-example
    shape ``in_shape`` (no batch axis);
  - ``forward(x, training, keep=True) -> y`` and ``backward(dy, need_dx=True) -> dx`` (``None`` when not
    needed); ``backward`` writes parameter gradients into ``self.grads`` (arrays allocated once, updated in
    place, so an optimizer may hold on to them). What forward keeps for backward (the names in ``_cache``)
    is kept only with ``keep=True`` and dropped by backward, so a layer holds no activations between
    passes: inference (``keep=False``) and a finished training step leave only parameters behind;
  - ``params`` / ``grads`` (trainable, same keys) and ``buffers`` (saved but not trained, e.g. the
    running statistics of batch normalisation);
  - ``config()``: the JSON-able constructor arguments, so ``LAYER_TYPES[kind](**config)`` rebuilds it.

Images travel channels-last: ``x: (N, H, W, C)``; the MNIST input itself is ``(N, 784)`` and a
``Reshape`` layer turns it into ``(N, 28, 28, 1)`` for convolutional networks. Channels-last keeps the
im2col matrix products contiguous without transposes.
"""

from __future__ import annotations

import copy as _copy
import math
from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import threads


class Layer:
    kind: ClassVar[str] = ""
    _cache: ClassVar[tuple[str, ...]] = ()  # attributes forward sets for backward

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.dtype = np.dtype(np.float32)

    def build(self, in_shape: tuple[int, ...], rng: np.random.Generator, dtype) -> tuple[int, ...]:
        self.dtype = np.dtype(dtype)
        return in_shape

    def forward(self, x: np.ndarray, training: bool = False, keep: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def config(self) -> dict:
        return {}

    def _alloc_grads(self) -> None:
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def release(self) -> None:
        """Drop what the last forward kept for backward."""
        for name in self._cache:
            setattr(self, name, None)

    def copy(self, memo: dict | None = None) -> "Layer":
        """An independent copy of the parameters and buffers (fresh zero gradients, nothing cached).
        ``memo`` maps id(object) -> copy for objects shared between layers (the network's RNG)."""
        new = _copy.copy(self)
        new.release()
        new.params = {k: v.copy() for k, v in self.params.items()}
        new.buffers = {k: v.copy() for k, v in self.buffers.items()}
        new._alloc_grads()
        return new

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
    _cache = ("_x",)

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

    def forward(self, x, training=False, keep=True):
        self._x = x if keep else None
        y = x @ self.params["W"]
        y += self.params["b"]
        return y

    def backward(self, dy, need_dx=True):
        np.matmul(self._x.T, dy, out=self.grads["W"])  # (n_in, N) @ (N, units)
        np.add.reduce(dy, axis=0, out=self.grads["b"])  # np.sum's own work without its Python wrapper
        self.release()
        return dy @ self.params["W"].T if need_dx else None

    def config(self):
        return {"units": self.units, "init": self.init}


# ---------------------------------------------------------------------------------------------
# Activations


class ReLU(Layer):
    kind = "relu"
    _cache = ("_y",)

    def forward(self, x, training=False, keep=True):
        y = np.maximum(x, 0)
        self._y = y if keep else None
        return y

    def backward(self, dy, need_dx=True):
        y = self._y
        self.release()
        return dy * (y > 0)


class Sigmoid(Layer):
    kind = "sigmoid"
    _cache = ("_y",)

    def forward(self, x, training=False, keep=True):
        # 0.5 (1 + tanh(x/2)) equals 1 / (1 + e^-x) but never overflows.
        y = np.tanh(x * 0.5)
        y += 1
        y *= 0.5
        self._y = y if keep else None
        return y

    def backward(self, dy, need_dx=True):
        y = self._y
        self.release()
        return dy * y * (1 - y)


class Tanh(Layer):
    kind = "tanh"
    _cache = ("_y",)

    def forward(self, x, training=False, keep=True):
        y = np.tanh(x)
        self._y = y if keep else None
        return y

    def backward(self, dy, need_dx=True):
        y = self._y
        self.release()
        return dy * (1 - y * y)


# ---------------------------------------------------------------------------------------------
# Regularisation and shape


class Dropout(Layer):
    """Inverted dropout: at training time zero a fraction ``p`` and scale the rest by 1/(1-p) (see draw_mask)."""

    kind = "dropout"
    _cache = ("_mask",)

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

    # a mask drawn beforehand for the next forward (a part of a batch split between threads, see
    # Network.forward); None: the forward draws its own
    given: np.ndarray | None = None

    # the mask compares 16 random bits per element with a threshold: the keep probability is
    # ``_keep_steps() / 65536`` (0.2 -> 0.8000, within 1/131072 of 1 - p for any p), and the kept values are
    # scaled by its inverse, so the expected output is exactly the input. 16 raw bits are a quarter of
    # the generator's work of a float32 uniform: cnn-seed's two dropout masks (225,000 elements a batch of
    # 64) took 0.64 ms a step as floats, 0.14 ms as raw bits, on the main thread before the batch splits.
    def _keep_steps(self) -> int:
        return min(65535, max(1, round((1.0 - self.p) * 65536)))

    def draw_mask(self, shape) -> np.ndarray:
        """A boolean keep-mask of ``shape`` (N, ...) from the layer's RNG."""
        n = math.prod(shape)
        bits = self.rng.bit_generator.random_raw((n + 3) // 4).view(np.uint16)[:n]
        return (bits < self._keep_steps()).reshape(shape)

    def forward(self, x, training=False, keep=True):
        given, self.given = self.given, None
        if not training or self.p == 0.0:
            self._mask = None
            return x
        mask = self.draw_mask(x.shape) if given is None else given
        self._mask = mask if keep else None
        y = np.multiply(x, mask)
        y *= 65536 / self._keep_steps()
        return y

    def backward(self, dy, need_dx=True):
        mask = self._mask
        self.release()
        if mask is None:
            return dy
        dx = np.multiply(dy, mask)
        dx *= 65536 / self._keep_steps()
        return dx

    def copy(self, memo=None):
        new = super().copy(memo)
        new.rng = _copy.deepcopy(self.rng, {} if memo is None else memo)
        return new

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

    def forward(self, x, training=False, keep=True):
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

    def forward(self, x, training=False, keep=True):
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, need_dx=True):
        return dy.reshape((dy.shape[0], *self._in_shape))


# ---------------------------------------------------------------------------------------------
# Convolution and pooling (channels-last)


class Conv2D(Layer):
    """2-D convolution, stride 1 (cross-correlation, as every framework computes it).

    x: (N, H, W, C) -> y: (N, Ho, Wo, F); W: (k, k, C, F), b: (F,).
    ``padding="valid"``: Ho = H - k + 1; ``"same"``: Ho = H (k odd).

    Forward is im2col + one matrix product per chunk of images. The columns carry a last column of
    ones so that the same product adds the bias, and the backward product ``cols.T @ dy`` gives the
    bias gradient as its last column (a column sum over tens of thousands of rows costs more than the
    product itself). Single-channel inputs (the first layer) build the columns transposed, (k*k+1, P),
    with one copy from a strided view of the k*k shifted images, instead of gathering k-element runs into
    each row.
    dx, when the output is about as large as the input ('same' padding) and C is not tiny, is the
    convolution of dy with the flipped kernel: the same im2col + product as forward. Otherwise (valid
    padding, single-channel input) it is one batched product giving, for each kernel offset (i, j), an
    (N, Ho, Wo, C) image added onto the input at that offset: k*k adds of long contiguous runs.
    No loop runs over pixels or images. The batch is split between the engine's threads
    (engine/threads.py) when each part is worth a hand-off; each part builds its own chunks. Training
    keeps a part's multi-channel columns in one array, so backward makes one kernel-gradient product
    and one dx scatter per part (cnn-seed's second conv: 25 adds per part instead of 25 per 4-image
    chunk): with two threads each NumPy call is a turn at the GIL, and the per-chunk calls cost more
    than the cache-sized chunks saved (2 threads: +5-10% training images/s in paired runs).
    """

    kind = "conv2d"
    _cache = ("_cols", "_xp", "_xshape", "_split")
    # The columns are built a few images at a time, at most ``max_chunk`` floats (512 KB in float32; the
    # transposed single-channel columns 8 times that): chunks that stay in the core's cache multiply
    # faster (the shipped CNN's second conv: 1.6x faster than with 4 MB chunks; cnn-seed's training 15%),
    # and predicting 1,000 images through a 'same' 5x5 conv with 32 channels would otherwise build 2.5 GB
    # of columns. Training keeps the chunks for the backward pass when they total at most ``max_kept``
    # floats (64 MB); beyond that backward rebuilds them.
    max_chunk = 1 << 17
    max_kept = 1 << 24

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

    def _padded(self, x, p=None):
        """x (N, H, W, C) with ``p`` (default: the layer's padding) zero rows/columns on each side."""
        p = self.pad if p is None else p
        if p == 0:
            return x
        n, h, w, c = x.shape
        xp = np.zeros((n, h + 2 * p, w + 2 * p, c), x.dtype)
        xp[:, p:p + h, p:p + w, :] = x
        return xp

    def _chunks(self, start, stop, rows_per_image, width, channels=2):
        """Image ranges [(s, e)] covering [start, stop) whose im2col matrices hold at most ``max_chunk``
        floats each (8x that for the single-channel columns, built by whole-slice copies)."""
        cap = self.max_chunk * (8 if channels == 1 else 1)
        step = max(1, cap // (rows_per_image * width))
        return [(i, min(stop, i + step)) for i in range(start, stop, step)]

    def _parts(self, n, out_pixels, width):
        """The batch split between the engine's threads: image ranges worth at least a hand-off each."""
        return threads.ranges(n, out_pixels * width * self.filters, threads.MIN_PART_FLOPS)

    def _windows(self, xp):
        """Padded images (N, Hp, Wp, C) -> the read-only view (N, Ho, Wo, k, k, C) of every k x k window.
        Made once per pass and sliced per chunk: sliding_window_view costs ~0.1 ms a call (16 chunks of
        cnn-seed's second conv: ~1.5 ms a training step), a slice of the view a microsecond."""
        k = self.kernel
        n, hp, wp, c = xp.shape
        s0, s1, s2, s3 = xp.strides
        return as_strided(xp, (n, hp - k + 1, wp - k + 1, k, k, c), (s0, s1, s2, s1, s2, s3), writeable=False)

    def _columns(self, xp, win=None, out=None):
        """Padded images (n, Hp, Wp, C) -> (n*Ho*Wo, k*k*C + 1): one row per output pixel holding its
        k x k x C input window (ordered like W) and a trailing 1 for the bias. May be a transposed view.
        ``win``: the same images' ``_windows`` view, when the caller has it; ``out``: where to write the
        columns (C > 1 only)."""
        k = self.kernel
        n, hp, wp, c = xp.shape
        ho, wo, kk = hp - k + 1, wp - k + 1, k * k
        if c == 1:
            # (kk+1, n, Ho, Wo): for each kernel offset a shifted copy of the images, all in one copy
            # from a (k, k, n, Ho, Wo) view (one NumPy call, not k*k: a turn at the GIL each)
            colsT = np.empty((kk + 1, n, ho, wo), xp.dtype)
            x3 = xp[..., 0]
            s0, s1, s2 = x3.strides
            shifted = as_strided(x3, (k, k, n, ho, wo), (s1, s2, s0, s1, s2), writeable=False)
            np.copyto(colsT[:kk].reshape(k, k, n, ho, wo), shifted)
            colsT[kk] = 1
            return colsT.reshape(kk + 1, n * ho * wo).T
        # (N, Ho, Wo, k, k, C) window view: one copy, runs of k*C contiguous floats
        cols = np.empty((n * ho * wo, kk * c + 1), xp.dtype) if out is None else out
        np.copyto(cols[:, :-1].reshape(n, ho, wo, k, k, c), self._windows(xp) if win is None else win)
        cols[:, -1] = 1
        return cols

    def forward(self, x, training=False, keep=True):
        k, f = self.kernel, self.filters
        xp = self._padded(x)
        n, hp, wp, c = xp.shape
        ho, wo, width = hp - k + 1, wp - k + 1, k * k * c + 1
        W, b = self.params["W"], self.params["b"]
        dt = np.result_type(x.dtype, W.dtype)
        Wb = np.concatenate([W.reshape(k * k * c, f), b[None, :]]).astype(dt, copy=False)  # (k*k*C+1, F)
        y = np.empty((n, ho, wo, f), dt)
        # training keeps the columns for backward unless they are big; then backward rebuilds them
        keep_cols = keep and training and n * ho * wo * width <= self.max_kept
        win = self._windows(xp) if c > 1 else None

        def part(start, stop):  # one thread's images: columns and product a chunk at a time
            kept = []
            # kept multi-channel columns go into one array per part: backward then makes one product
            # per part instead of one per chunk (and one scatter: a few dozen NumPy calls, not hundreds)
            whole = np.empty(((stop - start) * ho * wo, width), dt) if keep_cols and c > 1 else None
            for s, e in self._chunks(start, stop, ho * wo, width, c):
                into = None if whole is None else whole[(s - start) * ho * wo:(e - start) * ho * wo]
                cols = self._columns(xp[s:e], None if win is None else win[s:e], into)
                np.matmul(cols, Wb, out=y[s:e].reshape(-1, f))
                if keep_cols and whole is None:
                    kept.append(cols)
            return [whole] if whole is not None else kept

        parts = self._parts(n, ho * wo, width)
        kept = threads.parallel_map(lambda r: part(*r), parts)
        if keep:
            self._cols = kept if keep_cols else None
            self._xp, self._xshape, self._split = xp, x.shape, parts
        return y

    def backward(self, dy, need_dx=True):
        k, p = self.kernel, self.pad
        n, ho, wo, f = dy.shape
        W = self.params["W"]
        c = W.shape[2]
        kk, width = k * k, k * k * c + 1
        _, h, w, _ = self._xshape
        xp, kept, parts = self._xp, self._cols, self._split
        dy2 = dy.reshape(-1, f)  # (N*Ho*Wo, F)
        scatter = need_dx and not self._dx_by_convolution(c, h * w, ho * wo)
        if scatter:
            dxp = np.zeros((n, h + 2 * p, w + 2 * p, c), dy.dtype)
            Wt = W.reshape(kk, c, f).transpose(0, 2, 1)  # (k*k, F, C)
        win = self._windows(xp) if kept is None and c > 1 else None

        def part(t):  # one thread's images: their share of the kernel gradient, their dx
            gWb = None  # (F, k*k*C+1): kernel columns, then the bias column
            whole = kept is not None and c > 1     # the part's columns are one array (see forward)
            for q, (s, e) in enumerate([parts[t]] if whole else self._chunks(*parts[t], ho * wo, width, c)):
                cols = kept[t][q] if kept is not None else self._columns(xp[s:e], None if win is None else win[s:e])
                dyc = dy2[s * ho * wo:e * ho * wo]
                if cols.flags.f_contiguous:  # single-channel columns, stored transposed
                    g = (cols.T @ dyc).T
                else:  # 10-15% faster in OpenBLAS than cols.T @ dyc for tall, narrow dy
                    g = dyc.T @ cols
                gWb = g.copy() if gWb is None else np.add(gWb, g, out=gWb)
                if scatter:
                    # (k*k, rows, C): the gradient of every window position, grouped by kernel offset
                    dwin = np.matmul(dyc, Wt).reshape(kk, e - s, ho, wo, c)
                    for i in range(k):
                        for j in range(k):
                            dxp[s:e, i:i + ho, j:j + wo, :] += dwin[i * k + j]
            return gWb

        gWb = sum(threads.parallel_map(part, range(len(parts))))
        self.grads["W"][...] = gWb[:, :-1].T.reshape(W.shape)
        self.grads["b"][...] = gWb[:, -1]
        self.release()
        if not need_dx:
            return None
        if scatter:
            return dxp[:, p:p + h, p:p + w, :] if p else dxp
        return self._dx_convolution(dy, (n, h, w, c))

    # dx by convolution needs at least this many input channels (a 1-channel product is all overhead)
    dx_conv_min_channels = 8

    def _dx_by_convolution(self, c, in_pixels, out_pixels):
        """Whether dx is cheaper as a convolution of dy than as a scatter: its product covers every
        input pixel instead of every output pixel, about the same for 'same' padding, 2.25x for
        cnn-seed's second (valid) layer."""
        return c >= self.dx_conv_min_channels and in_pixels <= 1.25 * out_pixels

    def _dx_convolution(self, dy, xshape=None):
        """dx = dy (padded by k-1-p) correlated with the kernel flipped in space, F and C swapped:
        (N, Ho, Wo, F) -> (N, H, W, C) = ``xshape`` (default: the last forward's input), the same im2col
        + product as forward."""
        k, p = self.kernel, self.pad
        n, _, _, f = dy.shape
        _, h, w, c = xshape or self._xshape
        W = self.params["W"]
        Wf = np.empty((k * k * f + 1, c), W.dtype)  # flipped kernel rows, then a zero row for the ones
        Wf[:-1] = W[::-1, ::-1].transpose(0, 1, 3, 2).reshape(k * k * f, c)
        Wf[-1] = 0
        dyp = self._padded(dy, k - 1 - p)
        dx = np.empty((n, h, w, c), np.result_type(dy.dtype, W.dtype))
        width = k * k * f + 1
        win = self._windows(dyp) if f > 1 else None

        def part(start, stop):
            for s, e in self._chunks(start, stop, h * w, width, f):
                cols = self._columns(dyp[s:e], None if win is None else win[s:e])
                np.matmul(cols, Wf, out=dx[s:e].reshape(-1, c))

        threads.for_ranges(part, n, h * w * width * c, threads.MIN_PART_FLOPS)
        return dx

    def config(self):
        return {"filters": self.filters, "kernel": self.kernel, "padding": self.padding, "init": self.init}


class MaxPool2D(Layer):
    """Non-overlapping max pooling. x: (N, H, W, C) -> (N, H//s, W//s, C); odd edges are dropped.

    The gradient of each window goes to exactly one element, its first maximum in row-major order
    (what argmax picks), so ties (e.g. windows of zeros after a ReLU) are not counted twice.
    """

    kind = "maxpool2d"
    _cache = ("_masks", "_xs", "_y", "_xshape")

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

    def forward(self, x, training=False, keep=True):
        s = self.size
        n, h, w, c = x.shape
        ho, wo = h // s, w // s
        xs = x[:, : ho * s, : wo * s, :].reshape(n, ho, s, wo, s, c)  # a view unless an edge is dropped
        y = np.empty((n, ho, wo, c), x.dtype)
        # training builds the gradient routing now, while x is still in cache; inference skips it
        masks = np.empty((s * s, n, ho, wo, c), bool) if training and keep else None

        def part(a, b):
            # max over window rows first (runs of Wo*s*C contiguous floats), then over window columns
            xa = xs[a:b]
            rows = xa[:, :, 0].copy() if s == 1 else np.maximum(xa[:, :, 0], xa[:, :, 1])  # (n, Ho, Wo, s, C)
            for di in range(2, s):
                np.maximum(rows, xa[:, :, di], out=rows)
            if s == 1:
                y[a:b] = rows[:, :, :, 0]
            else:
                np.maximum(rows[:, :, :, 0], rows[:, :, :, 1], out=y[a:b])
            for dj in range(2, s):
                np.maximum(y[a:b], rows[:, :, :, dj], out=y[a:b])
            if masks is not None:
                self._first_max_masks(xa, y[a:b], masks[:, a:b])

        threads.for_ranges(part, n, h * w * c, threads.MIN_PART_ELEMENTS)
        if keep:
            self._masks, self._xs, self._y, self._xshape = masks, xs, y, x.shape
        return y

    def _first_max_masks(self, xs, y, masks=None):
        """(s*s, N, Ho, Wo, C) bool: for each window offset (row-major), where it holds the first
        maximum of its window. Contiguous per offset, so the tie-breaking passes run over long arrays."""
        s = self.size
        if masks is None:
            masks = np.empty((s * s, *y.shape), bool)
        for t in range(s * s):
            np.equal(xs[:, :, t // s, :, t % s], y, out=masks[t])
        seen = masks[0].copy()
        for t in range(1, s * s):
            np.greater(masks[t], seen, out=masks[t])  # a match counts only if no earlier offset matched
            if t < s * s - 1:
                seen |= masks[t]
        return masks

    def backward(self, dy, need_dx=True):
        masks, xs, y, xshape = self._masks, self._xs, self._y, self._xshape
        self.release()
        if not need_dx:
            return None
        s = self.size
        n, h, w, c = xshape
        ho, wo = h // s, w // s
        dx6 = np.empty((n, ho, s, wo, s, c), np.result_type(dy.dtype, y.dtype))

        def part(a, b):
            m = masks[:, a:b] if masks is not None else self._first_max_masks(xs[a:b], y[a:b])
            for t in range(s * s):
                np.multiply(m[t], dy[a:b], out=dx6[a:b, :, t // s, :, t % s])

        threads.for_ranges(part, n, h * w * c, threads.MIN_PART_ELEMENTS)
        if ho * s == h and wo * s == w:
            return dx6.reshape(xshape)
        dx = np.zeros(xshape, dx6.dtype)
        dx[:, : ho * s, : wo * s, :] = dx6.reshape(n, ho * s, wo * s, c)
        return dx

    def config(self):
        return {"size": self.size}


def column_sum(a: np.ndarray) -> np.ndarray:
    """(M, C) -> (C,) sums over rows, as one matrix-vector product: NumPy's axis-0 sum of a tall,
    narrow array walks it row by row (10x slower for M = 50,000, C = 20)."""
    return np.ones(a.shape[0], a.dtype) @ a


class BatchNorm(Layer):
    """Batch normalisation over every axis but the last (features, or channels of an image).

    Training uses the batch statistics and updates running ones (momentum 0.9); inference uses the
    running statistics, so a single drawn digit is normalised the same way as a batch.
    """

    kind = "batchnorm"
    _cache = ("_x2", "_xhat", "_inv", "_training")

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

    def forward(self, x, training=False, keep=True):
        c = x.shape[-1]
        x2 = x.reshape(-1, c)  # (M, C), M = N (features) or N*H*W (channels)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not training:  # running statistics: one per-channel affine map, 2 passes
            inv = (1.0 / np.sqrt(self.buffers["var"] + self.eps)).astype(x.dtype)
            scale = gamma * inv
            y = x2 * scale
            y += beta - self.buffers["mean"] * scale
            if keep:
                self._x2, self._xhat, self._inv, self._training = x2, None, inv, False
            return y.reshape(x.shape)
        # batch statistics: each pass over row ranges split between the engine's threads
        m = x2.shape[0]
        parts = threads.ranges(m, c, threads.MIN_PART_ELEMENTS)

        def over_rows(fn):
            return threads.parallel_map(lambda r: fn(*r), parts)

        mean = sum(over_rows(lambda s, e: column_sum(x2[s:e]))) / m
        xc = np.empty_like(x2)

        def centre(s, e):  # two-pass variance: no cancellation in float32
            np.subtract(x2[s:e], mean, out=xc[s:e])
            return column_sum(xc[s:e] * xc[s:e])

        var = sum(over_rows(centre)) / m
        mom = self.momentum
        self.buffers["mean"] *= mom
        self.buffers["mean"] += (1 - mom) * mean
        self.buffers["var"] *= mom
        self.buffers["var"] += (1 - mom) * var
        inv = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        y = np.empty_like(xc)

        def normalise(s, e):
            xc[s:e] *= inv  # now xhat
            np.multiply(xc[s:e], gamma, out=y[s:e])
            y[s:e] += beta

        over_rows(normalise)
        if keep:
            self._xhat, self._inv, self._training = xc, inv, True
        return y.reshape(x.shape)

    def backward(self, dy, need_dx=True):
        c = dy.shape[-1]
        dy2 = dy.reshape(-1, c)
        xhat = self._xhat
        if xhat is None:  # after an inference-mode forward
            xhat = (self._x2 - self.buffers["mean"]) * self._inv
        inv, training = self._inv, self._training
        self.release()
        m = dy2.shape[0]
        parts = threads.ranges(m, c, threads.MIN_PART_ELEMENTS)

        def over_rows(fn):
            return threads.parallel_map(lambda r: fn(*r), parts)

        sums = over_rows(lambda s, e: (column_sum(dy2[s:e] * xhat[s:e]), column_sum(dy2[s:e])))
        self.grads["gamma"][...] = sum(g for g, _ in sums)
        self.grads["beta"][...] = sum(b for _, b in sums)
        if not need_dx:
            return None
        a = self.params["gamma"] * inv
        if not training:  # fixed running statistics: a per-channel affine map
            return (dy2 * a).reshape(dy.shape)
        # dx = gamma * inv / m * (m dy - sum(dy) - xhat * sum(dy xhat))
        #    = a dy - xhat (a sum(dy xhat) / m) - a sum(dy) / m,   a = gamma * inv
        k_xhat, k_const = a * self.grads["gamma"] / m, a * self.grads["beta"] / m
        dx = np.empty(dy2.shape, np.result_type(dy2.dtype, a.dtype))

        def part(s, e):
            np.multiply(dy2[s:e], a, out=dx[s:e])
            dx[s:e] -= xhat[s:e] * k_xhat
            dx[s:e] -= k_const

        over_rows(part)
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
