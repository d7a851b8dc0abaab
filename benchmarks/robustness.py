"""How much accuracy does a digit lose when it is drawn big, small and off-centre on a canvas?

MNIST test digits are pasted into a 280x280 black canvas at a random position and size (ink height
40-90% of the canvas, enlarged smoothly by linear interpolation), sent through ``preprocess.to_mnist``
(the path every drawing takes) and classified; the originals are classified as they are. The difference
is what the preprocessing loses. The bar: at most 1.0 point.

    PYTHONPATH=. python benchmarks/robustness.py [--model M] [--n 2000] [--seed 0] [--variants]

``--variants`` also measures the alternatives to the default preprocessing on the same canvases
(whole-pixel centring as MNIST did, point-sampled bilinear resampling, no peak normalisation, other
bounding-box thresholds).
Needs the real MNIST test files (``--data``, default /work/shared/datasets/mnist or $MNIST_DIR).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_desktop import preprocess  # noqa: E402
from mnist_desktop.engine.serialize import load  # noqa: E402
from mnist_desktop.shipped import default_model_path  # noqa: E402

DEV_MODEL = "/work/dev-models/mlp-128x2.npz"

CANVAS = 280


def read_idx(path: Path) -> np.ndarray:
    """A gzipped IDX file (unsigned bytes) -> array; checks the header against the size."""
    raw = gzip.open(path).read()
    zero, code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\0\0" or code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {data.size} bytes")
    return data.reshape(shape)


def linear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) linear interpolation between pixel centres (edges clamped), independent of preprocess."""
    x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    R = np.zeros((n_out, n_in))
    for i in range(n_in):
        R[:, i] = np.clip(1.0 - np.abs(x - i), 0.0, None)
    R[x < 0, 0] = 1.0
    R[x > n_in - 1, n_in - 1] = 1.0
    return R


def paste_on_canvas(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(28, 28) float in [0, 1] -> (280, 280) float32: the ink enlarged to 40-90% of the canvas height,
    at a random place where it fits."""
    rows, cols = np.flatnonzero(digit.any(1)), np.flatnonzero(digit.any(0))
    ink = np.pad(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], 1)  # a black rim so edges fade out
    h0, w0 = rows[-1] + 1 - rows[0], cols[-1] + 1 - cols[0]
    scale = rng.uniform(0.4, 0.9) * CANVAS / h0
    scale = min(scale, (CANVAS - 4) / (w0 + 2), (CANVAS - 4) / (h0 + 2))
    H, W = round((h0 + 2) * scale), round((w0 + 2) * scale)
    big = linear_matrix(h0 + 2, H) @ ink @ linear_matrix(w0 + 2, W).T
    top, left = rng.integers(0, CANVAS - H + 1), rng.integers(0, CANVAS - W + 1)
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    canvas[top:top + H, left:left + W] = big.clip(0, 1)
    return canvas


def point_sampled_matrix(n_in: int, scale: float, n_out: int, offset: float = 0.0) -> np.ndarray:
    """The alternative to area averaging: linear interpolation at each output pixel's centre whatever the
    scale (what a plain bilinear resize does; it skips most input pixels when shrinking)."""
    j = np.arange(n_out, dtype=np.float64)
    inside = (j + 0.5 >= offset) & (j + 0.5 < offset + scale * n_in)
    t = np.clip((j + 0.5 - offset) / scale - 0.5, 0.0, n_in - 1.0)
    i0 = np.floor(t).astype(np.int64)
    frac = t - i0
    R = np.zeros((n_out, n_in))
    np.add.at(R, (np.arange(n_out), i0), np.where(inside, 1.0 - frac, 0.0))
    np.add.at(R, (np.arange(n_out), np.minimum(i0 + 1, n_in - 1)), np.where(inside, frac, 0.0))
    return R


# name -> (to_mnist keyword arguments, preprocess module attributes to swap in while measuring)
VARIANTS = {
    "default (sub-pixel centring, area averaging, peak 1, box at 25% of peak)": ({}, {}),
    "whole-pixel centring (as MNIST)": ({"centering": "integer"}, {}),
    "point-sampled bilinear instead of area averaging": ({}, {"resample_matrix": point_sampled_matrix}),
    "no peak normalisation": ({"normalize": False}, {}),
    "box threshold 5% of peak": ({}, {"BOX_FRACTION": 0.05}),
    "box threshold 50% of peak": ({}, {"BOX_FRACTION": 0.5}),
}


def preprocess_all(grays, variant: str | None = None) -> np.ndarray:
    """(H, W) ink-high images -> (N, 28, 28) through to_mnist with one of VARIANTS (blank -> zeros)."""
    kwargs, swaps = VARIANTS[variant] if variant else ({}, {})
    saved = {k: getattr(preprocess, k) for k in swaps}
    for k, v in swaps.items():
        setattr(preprocess, k, v)
    try:
        out = []
        for g in grays:
            p = preprocess.to_mnist(g, **kwargs)
            out.append(np.zeros((28, 28), np.float32) if p is None else p.image)
        return np.stack(out)
    finally:
        for k, v in saved.items():
            setattr(preprocess, k, v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help=f"model file (default: the shipped model, else {DEV_MODEL})")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR", "/work/shared/datasets/mnist"))
    ap.add_argument("--variants", action="store_true", help="also measure the alternative preprocessing choices")
    args = ap.parse_args(argv)
    args.model = args.model or default_model_path() or DEV_MODEL

    net, spec = load(args.model)
    x = read_idx(Path(args.data) / "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    y = read_idx(Path(args.data) / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(x), size=min(args.n, len(x)), replace=False)
    x, y = x[pick], y[pick]

    t0 = time.perf_counter()
    canvases = [paste_on_canvas(d, rng) for d in x]
    t1 = time.perf_counter()
    direct = float((net.predict(x.reshape(len(x), -1)) == y).mean())
    print(f"model {args.model} ({spec.get('name') or net.describe()}), {len(x)} MNIST test digits, seed {args.seed}")
    print(f"canvases made in {t1 - t0:.1f} s")
    print(f"{'':74s} {'accuracy':>9s} {'lost':>7s}")
    print(f"{'originals, fed directly':74s} {direct * 100:8.2f}% {'':>7s}")
    variants = VARIANTS if args.variants else dict(list(VARIANTS.items())[:1])
    for name in variants:
        t = time.perf_counter()
        images = preprocess_all(canvases, name)
        dt = time.perf_counter() - t
        acc = float((net.predict(images.reshape(len(images), -1)) == y).mean())
        print(f"{name:74s} {acc * 100:8.2f}% {(direct - acc) * 100:6.2f}  ({dt / len(x) * 1e3:.2f} ms/digit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
