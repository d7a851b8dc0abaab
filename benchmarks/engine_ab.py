"""Two versions of the engine in one process, timed in alternation: does a change make training faster?

    PYTHONPATH=. python benchmarks/engine_ab.py --preset cnn-seed [--threads 2] [--base HEAD]
        [--seconds 0.6] [--repeats 16] [--data DIR]

A is ``mnist_desktop/engine`` as committed at ``--base`` (``git archive``), B is the working tree's. Both
are copied into a temporary folder and imported side by side under other names (the engine imports only
itself, relatively), each with its own thread pool set to ``--threads``. Each side runs
``Trainer.train_step`` on the preset (its optimizer and learning rate, batch 64) for ``--seconds``, then
the other, ``--repeats`` times, who goes first alternating: this VM's speed drifts by 10-20% within
seconds, so two runs one after the other cannot show a 3% change, and alternating windows put both
through the same spells. Prints each side's median images/s and range, and B/A as the ratio of the
medians and as the median of the paired ratios. Data: MNIST training images (``--data``, ``$MNIST_DIR``,
the cache), else random images.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from data_parallel import alternating_rates  # noqa: E402
from machine import cpu_model  # noqa: E402
from train_speed import load_training_images  # noqa: E402


def engine_copies(base: str, folder: Path) -> None:
    """``folder``/eng_a: the engine at ``base``; ``folder``/eng_b: the working tree's."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", base, "mnist_desktop/engine"],
                             check=True, capture_output=True).stdout
    unpacked = folder / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-x", "-C", str(unpacked)], input=archive, check=True)
    shutil.copytree(unpacked / "mnist_desktop" / "engine", folder / "eng_a")
    shutil.copytree(ROOT / "mnist_desktop" / "engine", folder / "eng_b",
                    ignore=shutil.ignore_patterns("__pycache__"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="cnn-seed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--base", default="HEAD", help="git revision of side A (default HEAD)")
    p.add_argument("--seconds", type=float, default=0.6)
    p.add_argument("--repeats", type=int, default=16)
    p.add_argument("--data")
    args = p.parse_args(argv)
    x, y, source = load_training_images(args.data, 6400, 0)
    x, y = np.ascontiguousarray(x, np.float32), np.asarray(y, np.int64)
    bs = 64
    batches = [(x[i:i + bs], y[i:i + bs]) for i in range(0, len(x) - bs + 1, bs)]
    with tempfile.TemporaryDirectory(prefix="engine-ab-") as tmp:
        engine_copies(args.base, Path(tmp))
        sys.path.insert(0, tmp)
        trainers = []
        for name in ("eng_a", "eng_b"):
            engine = importlib.import_module(name)
            engine.threads.set_threads(args.threads)
            preset = engine.get_preset(args.preset)
            t = preset.training
            net = engine.Network.from_architecture(preset.architecture, rng=np.random.default_rng(0))
            trainer = engine.Trainer(net, (x, y), None, engine.TrainConfig(
                batch_size=bs, optimizer=t.get("optimizer", "adam"), lr=t.get("lr", 1e-3)))
            for xb, yb in batches[:20]:   # warm-up
                trainer.train_step(xb, yb)
            trainers.append(trainer)
        load0 = os.getloadavg()[0]
        a, b = alternating_rates(trainers, batches, args.seconds, args.repeats)
    print(f"## {args.preset}, batch {bs}, {args.threads} engine threads; A = engine at {args.base}, B = working "
          f"tree; {args.repeats} alternating runs of {args.seconds:g} s\n")
    for label, rates in (("A", a), ("B", b)):
        print(f"{label}: {statistics.median(rates):10,.0f} img/s (range {min(rates):,.0f}-{max(rates):,.0f})")
    print(f"\nB/A: {statistics.median(b) / statistics.median(a):.3f} (medians), "
          f"{statistics.median(rb / ra for ra, rb in zip(a, b)):.3f} (median of the paired runs)")
    print(f"\n{cpu_model()}, {os.cpu_count()} CPUs; {source}; load average {load0:.2f} -> {os.getloadavg()[0]:.2f}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
