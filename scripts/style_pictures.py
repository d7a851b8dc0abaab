"""The README's pictures of the style augmentation and of the style test set.

    MNIST_DIR=../shared/datasets/mnist PYTHONPATH=. python scripts/style_pictures.py [--out docs]

docs/augment-styles.png: one row per training style (data/styles.py): four MNIST digits as they are, then
twelve drawn in that style (rate 1), in MNIST's 28 x 28 look; the last two rows are whole training batches
with every augmentation of `--augment all` (styles at their training rates, rotation, shift, scale,
thickness, shear, elastic). docs/style-testset.png: the style test set (data/style_testset.py, seed 0) as
the network sees it after the app's reading path, one row per style. Pixels are enlarged 3x.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from mnist_desktop.data import load_dataset  # noqa: E402
from mnist_desktop.data.augment import AUGMENTATIONS, make_augmenter  # noqa: E402
from mnist_desktop.data.styles import STYLES, stylize  # noqa: E402
from mnist_desktop.heatmap import write_png  # noqa: E402


def grid(rows: list[list[np.ndarray]], zoom: int = 3, gap: int = 2) -> np.ndarray:
    """Rows of 28x28 images in [0, 1] -> one uint8 picture, grey gaps between the digits."""
    width = max(len(r) for r in rows)
    out = np.full((len(rows) * (28 + gap) + gap, width * (28 + gap) + gap), 0.25, np.float32)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            out[gap + i * (28 + gap):gap + i * (28 + gap) + 28, gap + j * (28 + gap):gap + j * (28 + gap) + 28] = img
    return np.kron((out * 255).round().astype(np.uint8), np.ones((zoom, zoom), np.uint8))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="docs")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    data = load_dataset("mnist", os.environ.get("MNIST_DIR"))
    rng = np.random.default_rng(args.seed)
    rows = []
    for name, digit in STYLES.items():
        idx = np.flatnonzero(data.y_train == digit)[:16]
        x = data.x_train[idx].reshape(-1, 28, 28)
        styled = stylize(x[4:], data.y_train[idx[4:]], rng, styles=(name,), rates={name: 1.0})
        rows.append(list(x[:4]) + list(styled))
    augment = make_augmenter(list(AUGMENTATIONS))
    for start in (0, 16):
        xb, yb = data.x_train[start:start + 16], data.y_train[start:start + 16]
        rows.append(list(augment(xb, rng, yb).reshape(-1, 28, 28)))
    out = Path(args.out)
    write_png(out / "augment-styles.png", grid(rows))
    print(f"saved {out / 'augment-styles.png'}")

    from mnist_desktop.app.imageio import ensure_gui_app, render_drawing
    from mnist_desktop.data.style_testset import TEST_STYLES, style_drawings
    from mnist_desktop.preprocess import to_mnist

    ensure_gui_app()
    rows = [[to_mnist(render_drawing(d)).image for d in style_drawings(name, 16, seed=0)] for name in TEST_STYLES]
    write_png(out / "style-testset.png", grid(rows))
    print(f"saved {out / 'style-testset.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
