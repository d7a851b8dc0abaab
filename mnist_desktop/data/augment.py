"""Training-time augmentation: random rotation, shift, scale, stroke thickness, slant (shear), elastic
wobble and handwriting styles (data/styles.py), for whole batches at once.

    augment = make_augmenter(["rotate", "shift", "scale", "thickness"])   # what Trainer(augment=) takes
    xb = augment(xb, rng)                  # (N, 784) float32 in [0, 1] -> same shape, new array
    xb = make_augmenter(["styles", "rotate"])(xb, rng, yb)   # "styles" also needs the labels

Every image gets its own random parameters drawn from ``rng``, so a seeded run repeats exactly. The
geometric ops (rotate, scale, shift) compose into ONE affine map per image, applied by ``affine_transform``
with bilinear sampling (a vectorised gather: no loop over images or pixels), zero outside the image; a
single resampling blurs less than three in a row. "thickness" blends each image with its grayscale dilation
(3 x 3 maximum: thicker strokes) or erosion (plus-shaped minimum: thinner strokes), because pen strokes
drawn in the app are rarely exactly as thick as MNIST's.

Conventions: coordinates are (x, y) = (column, row) measured from the image centre, y pointing down as
displayed; positive angles turn the digit counter-clockwise as displayed (like ``np.rot90``).
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import numpy as np

AUGMENTATIONS = ("rotate", "shift", "scale", "thickness", "shear", "elastic", "styles")
# ops that need each image's label (the Trainer passes them: ``augmenter(x, rng, labels)``)
LABEL_OPS = ("styles",)
DEFAULTS = {"max_angle": 15.0, "max_shift": 2.0, "scale_range": (0.9, 1.1), "max_thickness": 1.0,
            "max_shear": 0.25, "elastic_px": 1.0}


# ---- the exact building blocks ---------------------------------------------------------------------

def pull_matrices(angle=0.0, scale=1.0, dx=0.0, dy=0.0, shear=0.0) -> np.ndarray:
    """(N, 2, 3) float64 maps for ``affine_transform`` that turn each image by ``angle`` degrees
    (counter-clockwise as displayed) and scale it by ``scale``, both about the centre, slant it by
    ``shear`` (x += shear * y about the centre: > 0 leans the top to the left, as y points down), then move
    it by (dx, dy) pixels (right, down). Arguments are scalars or (N,) arrays (broadcast together).

    The matrices map an output pixel to where it is read from in the input (the inverse of the motion):
    p = R(angle)^T Sh^-1 (q - t) / scale.
    """
    angle, scale, dx, dy, shear = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, np.float64))
                                                        for v in (angle, scale, dx, dy, shear)))
    if np.any(scale <= 0):
        raise ValueError("scale must be > 0")
    rad = np.deg2rad(angle)
    c, s = np.cos(rad), np.sin(rad)
    # exact at multiples of 90 degrees, so rotate(x, 90) == np.rot90(x) bit for bit
    c = np.where(np.abs(c - np.round(c)) < 1e-12, np.round(c), c)
    s = np.where(np.abs(s - np.round(s)) < 1e-12, np.round(s), s)
    m = np.empty(angle.shape + (2, 3))
    # motion in (x, y-down) coordinates: q = scale * [[c, s], [-s, c]] p + t; below is its inverse
    m[:, 0, 0], m[:, 0, 1] = c / scale, -s / scale
    m[:, 1, 0], m[:, 1, 1] = s / scale, c / scale
    if np.any(shear != 0):  # (sR)^-1 Sh^-1 with Sh = [[1, k], [0, 1]]: the second column gains -k x the first
        m[:, 0, 1] -= shear * m[:, 0, 0]
        m[:, 1, 1] -= shear * m[:, 1, 0]
    m[:, 0, 2] = -(m[:, 0, 0] * dx + m[:, 0, 1] * dy)
    m[:, 1, 2] = -(m[:, 1, 0] * dx + m[:, 1, 1] * dy)
    return m


_P = 2  # zero border around padded images: far-outside samples are clipped onto it

# Scratch arrays, reused per thread between calls of the same shape. Fresh temporaries of a batch's size
# are mapped from the OS on every call and cost more in page faults than the arithmetic itself (measured
# on this machine: 1.9 ms -> 0.6 ms for 64 images, all ops). Large calls (a whole test set) do not keep
# their buffers.
_SCRATCH_MAX_BYTES = 8 << 20
_scratch = threading.local()


def _buffer(name: str, shape: tuple, dtype, *, zeros: bool = False) -> np.ndarray:
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize > _SCRATCH_MAX_BYTES:
        return np.zeros(shape, dtype) if zeros else np.empty(shape, dtype)
    cache = _scratch.__dict__.setdefault("buffers", {})
    key = (name, shape, dtype)
    buf = cache.get(key)
    if buf is None:
        if len(cache) >= 32:  # many batch sizes: start over rather than grow
            cache.clear()
        buf = cache[key] = np.zeros(shape, dtype) if zeros else np.empty(shape, dtype)
    return buf


@lru_cache(maxsize=8)
def _grid(H: int, W: int, dt) -> np.ndarray:
    """(3, H*W) homogeneous centred output coordinates (x, y, 1), read-only."""
    gy, gx = np.mgrid[0:H, 0:W]
    g = np.stack([gx.ravel() - (W - 1) / 2, gy.ravel() - (H - 1) / 2, np.ones(H * W)]).astype(dt)
    g.flags.writeable = False
    return g


def _pad(images: np.ndarray, dt) -> np.ndarray:
    """(N, H, W) -> scratch (N, H + 4, W + 4) of dtype ``dt`` holding the images, zeros around.

    Only the interior is ever written (here and by ``_thickness_padded``), so a reused border stays zero.
    """
    N, H, W = images.shape
    pad = _buffer("pad", (N, H + 2 * _P, W + 2 * _P), dt, zeros=True)
    pad[:, _P:-_P, _P:-_P] = images
    return pad


def _affine_padded(pad: np.ndarray, matrices: np.ndarray, displacement: np.ndarray | None = None) -> np.ndarray:
    """Bilinear resampling of zero-bordered images ``pad`` (N, H+4, W+4) -> new (N, H, W) array.
    ``displacement`` (N, 2, H*W), if given, is added to every output pixel's source (x, y) (elastic warps)."""
    N, Hp, Wp = pad.shape
    H, W = Hp - 2 * _P, Wp - 2 * _P
    HW, dt = H * W, pad.dtype
    m = np.array(np.broadcast_to(matrices, (N, 2, 3)), dt)
    m[:, 0, 2] += (W - 1) / 2 + _P                      # centred -> padded column / row, exact
    m[:, 1, 2] += (H - 1) / 2 + _P
    s = np.matmul(m, _grid(H, W, dt), out=_buffer("s", (N, 2, HW), dt))  # source (column, row) in pad
    if displacement is not None:
        s += displacement
    corner = np.floor(s, out=_buffer("corner", (N, 2, HW), dt))          # top-left of the 2 x 2 neighbours
    s -= corner                                         # fractions in [0, 1)
    # a corner 2+ pixels outside the image is clipped to where both of its neighbours are border zeros
    np.clip(corner[:, 0], 0, W + _P, out=corner[:, 0])
    np.clip(corner[:, 1], 0, H + _P, out=corner[:, 1])
    flat_index = corner[:, 1]
    flat_index *= Wp
    flat_index += corner[:, 0]                          # exact: small whole numbers
    k = _buffer("k", (N, HW), np.intp)
    k[...] = flat_index
    k += (np.arange(N, dtype=np.intp) * (Hp * Wp))[:, None]
    flat = pad.reshape(-1)
    v = _buffer("v", (4, N, HW), dt)
    for i, offset in enumerate((0, 1, Wp, Wp + 1)):    # the four neighbours: shifted views, one index
        flat[offset:].take(k, out=v[i])
    v00, v01, v10, v11 = v
    fx, fy = s[:, 0], s[:, 1]
    v01 -= v00; v01 *= fx; v01 += v00                   # upper = v00 + fx (v01 - v00); fx = 0 gives v00 exactly
    v11 -= v10; v11 *= fx; v11 += v10                   # lower
    v11 -= v01; v11 *= fy                               # upper + fy (lower - upper)
    return np.add(v01, v11).reshape(N, H, W)


def affine_transform(images: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Resample each image through its own affine map, bilinearly, with zeros outside.

    images: (N, H, W) float; matrices: (N, 2, 3) (or (2, 3) for all). Output pixel q = (x, y), in centred
    coordinates (column - (W-1)/2, row - (H-1)/2), takes the input's value at ``M[:, :2] @ q + M[:, 2]``
    (see ``pull_matrices``). Returns (N, H, W) float32 (float64 for float64 input). Identity matrices and
    whole-pixel moves give the input back exactly.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got shape {images.shape}")
    dt = np.float64 if images.dtype == np.float64 else np.float32
    return _affine_padded(_pad(images, dt), matrices)


def rotate(images: np.ndarray, degrees) -> np.ndarray:
    """Turn (N, H, W) or (H, W) images by ``degrees`` (scalar or (N,)), counter-clockwise as displayed."""
    images = np.asarray(images)
    single = images.ndim == 2
    batch = images[None] if single else images
    out = affine_transform(batch, pull_matrices(np.broadcast_to(degrees, (len(batch),))))
    return out[0] if single else out


def _thickness_padded(pad: np.ndarray, amount: np.ndarray) -> None:
    """In place on zero-bordered images (N, H+4, W+4): blend each toward its 3 x 3 grayscale dilation
    (amount > 0: thicker strokes) or its plus-shaped erosion (amount < 0: thinner; milder than a 3 x 3
    minimum, which would erase MNIST's 2-pixel strokes), by |amount|. Zeros outside the image."""
    N, Hp, Wp = pad.shape
    f = pad.reshape(-1)
    L, c = f.size, Wp + 1  # on the flat array neighbours are fixed offsets (+-1, +-Wp)
    buf = _buffer("morph", (2, L), pad.dtype)
    r = buf[1, : L - 2]                                 # r[j] = max of f[j .. j+2]: row maxima
    np.maximum(f[:-2], f[1:-1], out=r)
    np.maximum(r, f[2:], out=r)
    dilated = buf[0, c:L - c]                           # dilated[j] is pixel j + c
    np.maximum(r[:-2 * Wp], r[Wp:-Wp], out=dilated)
    np.maximum(dilated, r[2 * Wp:], out=dilated)
    eroded = buf[1, c:L - c]                            # r is no longer needed
    np.minimum(f[1:-2 * Wp - 1], f[Wp:-Wp - 2], out=eroded)  # up, left
    np.minimum(eroded, f[Wp + 2:-Wp], out=eroded)            # right
    np.minimum(eroded, f[2 * Wp + 1:-1], out=eroded)         # down
    np.minimum(eroded, f[c:L - c], out=eroded)               # centre
    interior = (slice(None), slice(_P, -_P), slice(_P, -_P))
    dilated, eroded = buf[0].reshape(pad.shape)[interior], buf[1].reshape(pad.shape)[interior]
    a = np.asarray(amount, pad.dtype).reshape(-1, 1, 1)
    target = _buffer("target", dilated.shape, pad.dtype)
    np.copyto(target, eroded)
    np.copyto(target, dilated, where=a > 0)
    image = pad[interior]
    target -= image
    target *= np.abs(a)
    image += target                                     # only the image is written: the border stays zero


def change_thickness(images: np.ndarray, amount) -> np.ndarray:
    """(N, H, W) images, ``amount`` (N,) in [-1, 1]: > 0 blends toward the 3 x 3 dilation (thicker
    strokes), < 0 toward the plus-shaped erosion (thinner), 0 leaves the image as it is."""
    images = np.asarray(images)
    dt = np.float64 if images.dtype == np.float64 else np.float32
    pad = _pad(images, dt)
    _thickness_padded(pad, np.broadcast_to(np.asarray(amount, np.float64), (len(images),)))
    return pad[:, _P:-_P, _P:-_P].copy()


# ---- random augmentation -------------------------------------------------------------------------

def _check_ops(ops) -> list[str]:
    if isinstance(ops, str):
        raise TypeError("ops must be a list of names; use parse_augment() for a comma-separated string")
    ops = list(dict.fromkeys(ops))
    unknown = [op for op in ops if op not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(map(repr, unknown))} (known: {', '.join(AUGMENTATIONS)})")
    return ops


def _check_params(max_angle, max_shift, scale_range, max_thickness, max_shear=0.25, elastic_px=1.0) -> None:
    if not (math.isfinite(max_angle) and 0 <= max_angle <= 180):
        raise ValueError(f"max_angle must be between 0 and 180 degrees, got {max_angle}")
    if not (math.isfinite(max_shift) and 0 <= max_shift <= 14):
        raise ValueError(f"max_shift must be between 0 and 14 pixels, got {max_shift}")
    lo, hi = scale_range
    if not (0 < lo <= hi and math.isfinite(hi)):
        raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {scale_range}")
    if not 0 <= max_thickness <= 1:
        raise ValueError(f"max_thickness must be between 0 and 1, got {max_thickness}")
    if not (math.isfinite(max_shear) and 0 <= max_shear <= 1):
        raise ValueError(f"max_shear must be between 0 and 1, got {max_shear}")
    if not (math.isfinite(elastic_px) and 0 <= elastic_px <= 5):
        raise ValueError(f"elastic_px must be between 0 and 5 pixels, got {elastic_px}")


ELASTIC_GRID = 4  # control points per side of the smooth random displacement field


@lru_cache(maxsize=4)
def _upsample(n_out: int, n_in: int = ELASTIC_GRID) -> np.ndarray:
    """(n_out, n_in) linear interpolation from ``n_in`` control points spread over ``n_out`` pixels."""
    pos = np.linspace(0, n_in - 1, n_out)
    lo = np.minimum(np.floor(pos).astype(int), n_in - 2)
    frac = pos - lo
    u = np.zeros((n_out, n_in))
    u[np.arange(n_out), lo] = 1 - frac
    u[np.arange(n_out), lo + 1] = frac
    u.flags.writeable = False
    return u


@lru_cache(maxsize=4)
def _upsample_2d(side: int) -> np.ndarray:
    """(grid * grid, side * side) float32: row-major control values -> the bilinear field over the image;
    kron(u, u)[i * side + j, a * grid + b] = u[i, a] u[j, b], so ``g.reshape(-1, grid * grid) @ this``
    is ``u @ g @ u.T`` for every field at once, as one matrix product."""
    k = np.kron(_upsample(side), _upsample(side)).T.astype(np.float32)
    k.flags.writeable = False
    return k


def elastic_field(n: int, side: int, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """(n, 2, side * side) float32: smooth random displacements (x, y) in pixels, one field per image: a
    4 x 4 grid of Gaussian control vectors (standard deviation ``amplitude`` / 2, clipped to ``amplitude``)
    interpolated bilinearly over the image, so strokes bend and wobble a little, as a hand does."""
    g = np.clip(rng.normal(0.0, amplitude / 2, (n * 2, ELASTIC_GRID * ELASTIC_GRID)), -amplitude, amplitude)
    return (g.astype(np.float32) @ _upsample_2d(side)).reshape(n, 2, side * side)


def augment_batch(x: np.ndarray, rng: np.random.Generator, ops, *, max_angle: float = 15.0,
                  max_shift: float = 2.0, scale_range: tuple[float, float] = (0.9, 1.1),
                  max_thickness: float = 1.0, max_shear: float = 0.25, elastic_px: float = 1.0,
                  labels: np.ndarray | None = None) -> np.ndarray:
    """x: (N, 784) (or (N, 28, 28)) float32 in [0, 1] -> a new float32 array of the same shape, in [0, 1].

    Per image: "styles" first (``data.styles.stylize``: a slash through some zeros, a flag and foot on
    some ones, a bar through some sevens, some fours, nines and twos redrawn in other hands; needs
    ``labels``, the (N,) digits), then thickness amount ~ U(-max_thickness, max_thickness), then one
    resampling: angle ~ U(-max_angle, max_angle) degrees, scale ~ U(scale_range), shear ~ U(-max_shear,
    max_shear), shift ~ U(-max_shift, max_shift) pixels on each axis, plus an elastic field of up to
    ``elastic_px`` pixels; only the listed ``ops`` are drawn and applied. ``x`` is never modified.
    """
    ops = _check_ops(ops)
    _check_params(max_angle, max_shift, scale_range, max_thickness, max_shear, elastic_px)
    x = np.asarray(x)
    shape = x.shape
    N = shape[0]
    side = math.isqrt(x[0].size) if N else 28
    if N and side * side != x[0].size:
        raise ValueError(f"x must hold square images, e.g. (N, 784), got shape {shape}")
    images = x.reshape(N, side, side)
    if N == 0 or not ops:
        return images.astype(np.float32).reshape(shape)
    if "styles" in ops:
        if labels is None:
            raise ValueError("the 'styles' augmentation needs the images' labels")
        from .styles import stylize

        images = stylize(images, np.asarray(labels), rng)
    pad = _pad(images, np.float32)
    if "thickness" in ops:
        _thickness_padded(pad, rng.uniform(-max_thickness, max_thickness, N))
    if any(op in ops for op in ("rotate", "scale", "shift", "shear", "elastic")):
        angle = rng.uniform(-max_angle, max_angle, N) if "rotate" in ops else 0.0
        scale = rng.uniform(*scale_range, N) if "scale" in ops else 1.0
        dx, dy = rng.uniform(-max_shift, max_shift, (2, N)) if "shift" in ops else (0.0, 0.0)
        shear = rng.uniform(-max_shear, max_shear, N) if "shear" in ops else 0.0
        field = elastic_field(N, side, rng, elastic_px) if "elastic" in ops else None
        images = _affine_padded(pad, pull_matrices(angle, scale, dx, dy, shear), field)
    else:
        images = pad[:, _P:-_P, _P:-_P].copy()
    return np.clip(images, 0.0, 1.0, out=images).reshape(shape)


class Augmenter:
    """A configured ``augment_batch``: ``augmenter(x, rng) -> x``, what ``Trainer(augment=...)`` takes."""

    def __init__(self, ops, **params) -> None:
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown augmentation setting {', '.join(sorted(unknown))} "
                            f"(known: {', '.join(DEFAULTS)})")
        self.ops = _check_ops(ops)
        self.params = {**DEFAULTS, **params}
        _check_params(**self.params)

    @property
    def uses_labels(self) -> bool:
        """True if an op needs the labels: ``Trainer`` then calls ``augmenter(x, rng, labels)``."""
        return any(op in LABEL_OPS for op in self.ops)

    def __call__(self, x: np.ndarray, rng: np.random.Generator, labels: np.ndarray | None = None) -> np.ndarray:
        return augment_batch(x, rng, self.ops, labels=labels, **self.params)

    def __repr__(self) -> str:
        return f"Augmenter({self.ops}, {', '.join(f'{k}={v}' for k, v in self.params.items())})"


def make_augmenter(ops, **params) -> Augmenter:
    """Validate the op names (ValueError listing the known ones) and settings, and bind them."""
    return Augmenter(ops, **params)


def parse_augment(text: str) -> list[str]:
    """"rotate,shift" -> ["rotate", "shift"]; "all" -> every op; "" or "none" -> []. ValueError if unknown."""
    names = [t.strip().lower() for t in text.replace(" ", ",").split(",") if t.strip()]
    if names in ([], ["none"]):
        return []
    if names == ["all"]:
        return list(AUGMENTATIONS)
    return _check_ops(names)
