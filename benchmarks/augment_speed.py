"""How long augmentation takes per batch, beside one training step, so its share of training time is known.

    PYTHONPATH=. python benchmarks/augment_speed.py [--repeat 300]

Prints, per setting: the median wall-clock time per call and the minimum CPU time per call (the CPU time
is the steadier number on a shared machine). The per-op rows use random digit-like data with random
labels. Then, for the two shipped presets (mlp-512x2, batch 128; cnn-bn-deep, batch 64) on the committed
MNIST subset (tests/data: real digits and labels, so the styles apply as in training), without
augmentation, with the presets' own (rotate, shift, scale, thickness) and with the new set (those + shear,
elastic, styles):
  - training throughput: the Trainer's own loop (``Trainer.run``, one BLAS thread as training runs), in
    training images per wall-clock second (end-of-epoch scoring excluded), best of interleaved rounds, and
    as a share of the throughput without augmentation: the number the bar (>= 80%) is about. The Trainer
    augments the next batch in a background thread while the current one trains (``prefetch``);
    ``--no-prefetch`` measures the loop without that;
  - CPU cost: augment + one training step in the calling thread, images per CPU-second (what the
    augmentation costs in total, whichever core does it).
Run it on a quiet machine (``flock /work/bench.lock``): the prefetch thread needs the second core.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from pathlib import Path

from mnist_desktop.data.augment import AUGMENTATIONS, make_augmenter, rotate
from mnist_desktop.data.datasets import load_dataset
from mnist_desktop.engine import Network, TrainConfig, Trainer, mlp
from mnist_desktop.engine.train import EpochRecord
from mnist_desktop.engine.presets import cnn_seed, get_preset
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

OLD = ["rotate", "shift", "scale", "thickness"]
NEW = OLD + ["shear", "elastic", "styles"]


def loop_throughput(preset: str, epochs: int, prefetch: bool) -> None:
    """Training images per wall-clock second of ``Trainer.run`` for one preset, for none / OLD / NEW."""
    data = load_dataset(data_dir=Path(__file__).resolve().parents[1] / "tests" / "data")
    p = get_preset(preset)
    bs = p.training["batch_size"]
    settings = {"none": None, "+".join(OLD): make_augmenter(OLD), "+".join(NEW): make_augmenter(NEW)}
    best = {}
    for _ in range(3):                      # interleaved rounds: a busy moment hits every setting alike
        for name, aug in settings.items():
            net = Network.from_architecture(p.architecture, rng=np.random.default_rng(0))
            config = TrainConfig(batch_size=bs, epochs=epochs, lr=1e-4, train_eval_size=bs)
            trainer = Trainer(net, (data.x_train, data.y_train), None, config, aug, prefetch=prefetch)
            seconds = sum(r.seconds for r in trainer.run() if isinstance(r, EpochRecord))
            rate = epochs * len(data.x_train) / seconds
            best[name] = max(best.get(name, 0.0), rate)
    base = best["none"]
    for name, rate in best.items():
        print(f"train loop {preset} (batch {bs}{', prefetch' if prefetch else ', no prefetch'}), augment "
              f"{name:45} {rate:8,.0f} img/s  {rate / base * 100:5.1f}% of none")


def throughput(preset: str, rounds: int) -> None:
    """Images per CPU-second of augment + train_step for one preset, for none / OLD / NEW."""
    data = load_dataset(data_dir=Path(__file__).resolve().parents[1] / "tests" / "data")
    p = get_preset(preset)
    bs = p.training["batch_size"]
    net = Network.from_architecture(p.architecture, rng=np.random.default_rng(0))
    trainer = Trainer(net, (data.x_train, data.y_train), None, TrainConfig(batch_size=bs))
    rng = np.random.default_rng(0)
    batches = [(data.x_train[i:i + bs], data.y_train[i:i + bs]) for i in range(0, len(data.x_train) - bs + 1, bs)]
    settings = {"none": None, "+".join(OLD): make_augmenter(OLD), "+".join(NEW): make_augmenter(NEW)}
    steps = max(len(batches), rounds)
    best = {}
    for _ in range(3):                      # interleaved rounds: a busy moment hits every setting alike
        for name, aug in settings.items():
            c0 = time.process_time()
            for k in range(steps):
                xb, yb = batches[k % len(batches)]
                if aug is not None:
                    xb = aug(xb, rng, yb)
                trainer.train_step(xb, yb)
            rate = steps * bs / (time.process_time() - c0)
            best[name] = max(best.get(name, 0.0), rate)
    base = best["none"]
    for name, rate in best.items():
        extra = f"  {rate / best['+'.join(OLD)] * 100:5.1f}% of old" if name == "+".join(NEW) else ""
        print(f"cpu cost {preset} (batch {bs}), augment {name:45} {rate:8,.0f} img/s  "
              f"{rate / base * 100:5.1f}% of none{extra}")


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
    parser.add_argument("--no-train", action="store_true", help="skip the training-throughput part")
    parser.add_argument("--no-prefetch", action="store_true", help="also measure the loop without prefetch")
    parser.add_argument("--only-train", action="store_true", help="skip the per-op rows")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}, python {platform.python_version()}, {platform.machine()}, {cpu_model()}, "
          f"{time.strftime('%Y-%m-%d')}")
    if not args.only_train:
        per_op_rows(args.repeat, rng)
    if not args.no_train:
        for preset, epochs in (("mlp-512x2", 8), ("cnn-bn-deep", 1)):   # about 2 and 5 s per measurement
            print()
            loop_throughput(preset, epochs, prefetch=True)
            if args.no_prefetch:
                loop_throughput(preset, epochs, prefetch=False)
        for preset, rounds in (("mlp-512x2", 200), ("cnn-bn-deep", 60)):
            print()
            throughput(preset, rounds)


def per_op_rows(repeat: int, rng: np.random.Generator) -> None:
    print(f"{'what':48} {'wall ms':>9} {'cpu ms':>9}")
    rows = []
    for batch in (64, 256):
        x, labels = fake_digits(batch, rng), rng.integers(0, 10, batch)
        for ops in [[op] for op in AUGMENTATIONS] + [list(AUGMENTATIONS)]:
            augment = make_augmenter(ops)
            rows.append((f"augment batch {batch}: {'+'.join(ops)}", *timed(lambda: augment(x, rng, labels), repeat)))
    x_test = fake_digits(10_000, rng).reshape(-1, 28, 28)
    rows.append(("rotate 10,000 images by 30 degrees", *timed(lambda: rotate(x_test, 30), 3)))
    x, y = fake_digits(64, rng), rng.integers(0, 10, 64)
    for name, arch in (("mlp 784-100-10", mlp([784, 100, 10])), ("cnn-seed", cnn_seed())):
        net = Network.from_architecture(arch, rng=np.random.default_rng(0))
        trainer = Trainer(net, (x, y), None, TrainConfig())
        rows.append((f"one training step, batch 64: {name}", *timed(lambda: trainer.train_step(x, y),
                                                                     max(repeat // 20, 5))))
    for what, wall, cpu in rows:
        print(f"{what:48} {wall * 1e3:9.3f} {cpu * 1e3:9.3f}")


if __name__ == "__main__":
    main()
