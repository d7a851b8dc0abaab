"""How long augmentation takes per batch, beside one training step, so its share of training time is known.

    PYTHONPATH=. python benchmarks/augment_speed.py [--repeat 300]

Prints, per setting: the median wall-clock time per call and the minimum CPU time per call (the CPU time
is the steadier number on a shared machine). Uses random digits-like data, so it needs no dataset.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from mnist_desktop.data.augment import AUGMENTATIONS, make_augmenter, rotate
from mnist_desktop.engine import Network, TrainConfig, Trainer, mlp
from mnist_desktop.engine.presets import cnn_seed


def timed(fn, repeat: int, rounds: int = 5) -> tuple[float, float]:
    """(median wall seconds per call, minimum CPU seconds per call) over ``rounds`` rounds."""
    for _ in range(10):
        fn()
    walls, cpus = [], []
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            fn()
        walls.append((time.perf_counter() - w0) / repeat)
        cpus.append((time.process_time() - c0) / repeat)
    return statistics.median(walls), min(cpus)


def fake_digits(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 784) float32: strokes-like blobs, mostly zeros like MNIST."""
    x = np.zeros((n, 28, 28), np.float32)
    x[:, 6:22, 10:18] = rng.random((n, 16, 8)) > 0.4
    return x.reshape(n, 784)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}, python {platform.python_version()}, {platform.machine()}")
    print(f"{'what':48} {'wall ms':>9} {'cpu ms':>9}")
    rows = []
    for batch in (64, 256):
        x = fake_digits(batch, rng)
        for ops in [[op] for op in AUGMENTATIONS] + [list(AUGMENTATIONS)]:
            augment = make_augmenter(ops)
            rows.append((f"augment batch {batch}: {'+'.join(ops)}", *timed(lambda: augment(x, rng), args.repeat)))
    x_test = fake_digits(10_000, rng).reshape(-1, 28, 28)
    rows.append(("rotate 10,000 images by 30 degrees", *timed(lambda: rotate(x_test, 30), 3)))
    x, y = fake_digits(64, rng), rng.integers(0, 10, 64)
    for name, arch in (("mlp 784-100-10", mlp([784, 100, 10])), ("cnn-seed", cnn_seed())):
        net = Network.from_architecture(arch, rng=np.random.default_rng(0))
        trainer = Trainer(net, (x, y), None, TrainConfig())
        rows.append((f"one training step, batch 64: {name}", *timed(lambda: trainer.train_step(x, y),
                                                                     max(args.repeat // 20, 5))))
    for what, wall, cpu in rows:
        print(f"{what:48} {wall * 1e3:9.3f} {cpu * 1e3:9.3f}")


if __name__ == "__main__":
    main()
