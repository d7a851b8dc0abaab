"""End-to-end accuracy on 1,000 pen-written digits that are not MNIST (17 writers, UNIPEN).

Each drawing goes the way ``mnist-desktop predict`` takes it: read_drawing -> render_drawing (Qt, the
same painter as the canvas) -> preprocess.to_mnist -> one batched network call. The label is the digit
after the last underscore of the file name (``00042_0.json`` is a 0).

    PYTHONPATH=. python benchmarks/drawn_digits.py [--model M] [--dir /work/shared/datasets/drawn-digits]

``--variants`` also measures the alternatives to the default preprocessing on the same renderings (the
list is in robustness.py); ``--pen W`` re-renders every drawing with pen width W instead of the file's
(what does a thin or a fat pen cost?); ``--photo`` turns each rendering into a dark-on-light "photo" (grey
paper at 0.85, ink at 0.15, noise sd 0.02, JPEG quality 50) and reads it back through ink_from_pixels, the
path an image file takes.
Never train on these files or tune to single ones: other writers' digits check the same thing elsewhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from mnist_desktop.app.imageio import ensure_gui_app, qimage_to_array, render_drawing  # noqa: E402
from mnist_desktop.preprocess import ink_from_pixels  # noqa: E402
from mnist_desktop.drawing import read_drawing  # noqa: E402
from mnist_desktop.engine.serialize import load  # noqa: E402
from mnist_desktop.shipped import default_model_path  # noqa: E402

DEV_MODEL = "/work/dev-models/mlp-128x2.npz"
from robustness import VARIANTS, preprocess_all  # noqa: E402  (this folder is on sys.path)


def label_of(path: Path) -> int:
    return int(path.stem.rsplit("_", 1)[1])


def as_photo(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White-on-black rendering -> the ink as ink_from_pixels finds it in a noisy dark-on-light JPEG."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage

    paper = 0.85 - 0.7 * gray + rng.normal(0.0, 0.02, gray.shape)
    px = np.ascontiguousarray(np.clip(np.rint(paper * 255), 0, 255).astype(np.uint8))
    img = QImage(px.data, px.shape[1], px.shape[0], px.strides[0], QImage.Format.Format_Grayscale8)
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "JPEG", 50)
    buf.close()
    back = QImage.fromData(data, "JPEG")
    ink, inverted = ink_from_pixels(qimage_to_array(back.convertToFormat(QImage.Format.Format_RGBA8888)))
    assert inverted
    return ink


def report(name: str, probs: np.ndarray, y: np.ndarray, top_confusions: int = 10) -> None:
    pred = probs.argmax(1)
    acc = float((pred == y).mean())
    print(f"\n{name}: {acc * 100:.1f}% ({int((pred == y).sum())}/{len(y)})")
    print("per digit: " + "  ".join(f"{d}:{(pred[y == d] == d).mean() * 100:.0f}%" for d in range(10) if (y == d).any()))
    conf = Counter((int(t), int(p)) for t, p in zip(y, pred) if t != p)
    if conf:
        print("most common confusions (true -> predicted: count): "
              + ", ".join(f"{t}->{p}: {n}" for (t, p), n in conf.most_common(top_confusions)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help=f"model file (default: the shipped model, else {DEV_MODEL})")
    ap.add_argument("--dir", default="/work/shared/datasets/drawn-digits")
    ap.add_argument("--variants", action="store_true", help="also measure the alternative preprocessing choices")
    ap.add_argument("--pen", type=float, help="render with this pen width instead of the file's")
    ap.add_argument("--photo", action="store_true", help="go through a noisy dark-on-light JPEG first")
    args = ap.parse_args(argv)
    args.model = args.model or default_model_path() or DEV_MODEL

    files = sorted(Path(args.dir).glob("*.json"))
    if not files:
        print(f"no drawings (*.json) in {args.dir}", file=sys.stderr)
        return 2
    net, spec = load(args.model)
    y = np.array([label_of(p) for p in files])
    ensure_gui_app()

    t0 = time.perf_counter()
    drawings = [read_drawing(p) for p in files]
    if args.pen is not None:
        for d in drawings:
            d.pen_width = args.pen
    t1 = time.perf_counter()
    grays = [render_drawing(d) for d in drawings]
    if args.photo:
        rng = np.random.default_rng(0)
        grays = [as_photo(g, rng) for g in grays]
    t2 = time.perf_counter()
    images = preprocess_all(grays)
    t3 = time.perf_counter()
    probs = net.predict_proba(images.reshape(len(images), -1))
    t4 = time.perf_counter()
    pen = f"pen width {args.pen:g} (instead of the files')" if args.pen is not None else "pen width from the files"
    pen += ", as noisy dark-on-light JPEGs" if args.photo else ""
    print(f"model {args.model} ({spec.get('name') or net.describe()}), {len(files)} drawings from {args.dir}, {pen}")
    print(f"time: read {t1 - t0:.2f} s, render {t2 - t1:.2f} s, preprocess {t3 - t2:.2f} s, network {t4 - t3:.3f} s "
          f"({(t4 - t0) / len(files) * 1e3:.1f} ms per drawing)")
    names = list(VARIANTS)
    report(names[0], probs, y)
    if args.variants:
        for name in names[1:]:
            imgs = preprocess_all(grays, name)
            report(name, net.predict_proba(imgs.reshape(len(imgs), -1)), y, top_confusions=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
