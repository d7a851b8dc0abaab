"""Training throughput with the Train view's live weights on, against off.

    PYTHONPATH=. python benchmarks/live_weights.py [--presets mlp-128x2,cnn-seed] [--per-class 1000]
        [--epochs 2] [--rounds 3] [--every 300] [--data DIR]

For each preset, the Train view's worker (app/worker.py's TrainWorker, the same work a Start runs, Qt-free)
trains a fresh network on the first ``--per-class`` images of each digit, with ``weights_every`` 0 (off)
and ``--every`` (on: a live_weights snapshot at the start, every ``--every`` batches but at most every
0.5 s, and after each epoch, each computed on a copy of the network). Off and on alternate ``--rounds``
times (who goes first alternates), so a busy spell on a shared machine hits both. Throughput is the
images trained divided by the wall time of the run after the data is loaded, less the per-epoch scoring
(which is the same on both sides and would dilute the difference): batches and every snapshot, the first
and the after-epoch ones included. The table gives the median of each side, their ratio and the
snapshots taken. The issue's bar: on / off >= 0.95.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


class Reporter:
    """What a JobRunner job gives the work: report() and on_cancel(); counts the snapshots and notes when
    the data arrived."""

    def __init__(self) -> None:
        self.snapshots = 0
        self.data_at = None
        self.eval_seconds = 0.0

    def report(self, kind, payload) -> None:
        if kind == "weights":
            self.snapshots += 1
        elif kind == "data":
            self.data_at = time.perf_counter()
        elif kind == "epoch":
            self.eval_seconds += payload.eval_seconds

    def on_cancel(self, callback) -> None:
        pass


def one_run(preset: str, every: int, args) -> tuple[float, int]:
    """-> (images per second after the data is loaded, snapshots taken)."""
    from mnist_desktop.app.worker import TrainJob, TrainWorker
    from mnist_desktop.training import build_run, train_settings
    from types import SimpleNamespace
    from mnist_desktop.training import TRAIN_OPTIONS

    options = SimpleNamespace(preset=preset, layers=None, activation=None, loss=None, dropout=None, augment=None,
                              **{k: None for k in TRAIN_OPTIONS})
    options.epochs = args.epochs
    net, config, augment = build_run(*train_settings(options))
    worker = TrainWorker(TrainJob(net, config, augment, "mnist", args.data, args.per_class, weights_every=every))
    reporter = Reporter()
    outcome = worker.run(reporter)
    end = time.perf_counter()
    if outcome.status != "finished":
        sys.exit(f"{preset}: the run ended {outcome.status}: {outcome.message}")
    images = outcome.data.train_images * config.epochs
    return images / (end - reporter.data_at - reporter.eval_seconds), reporter.snapshots


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default="mlp-128x2,cnn-seed")
    p.add_argument("--per-class", type=int, default=1000, help="training images per digit (default 1000)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--every", type=int, default=None, help="batches between snapshots (default: the view's)")
    p.add_argument("--data", metavar="DIR", help="folder with the MNIST IDX files (default: $MNIST_DIR, cache)")
    args = p.parse_args(argv)
    from mnist_desktop.live_weights import DEFAULT_EVERY, DEFAULT_MIN_SECONDS

    every = args.every or DEFAULT_EVERY
    print(f"live weights benchmark, {datetime.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"{args.per_class * 10:,} training images, {args.epochs} epochs per run, {args.rounds} rounds; "
          f"snapshots every {every} batches (at least {DEFAULT_MIN_SECONDS} s apart) and after each epoch")
    print(f"{'preset':<11} {'off img/s':>10} {'on img/s':>10} {'on/off':>7} {'snapshots':>9}   runs (off | on)")
    for preset in args.presets.split(","):
        one_run(preset, 0, argparse.Namespace(**{**vars(args), "epochs": 1, "per_class": 50}))   # warm-up
        off, on, snaps = [], [], []
        for r in range(args.rounds):
            order = [(0, off), (every, on)] if r % 2 == 0 else [(every, on), (0, off)]
            for e, into in order:
                rate, n = one_run(preset, e, args)
                into.append(rate)
                if e:
                    snaps.append(n)
        m_off, m_on = statistics.median(off), statistics.median(on)
        print(f"{preset:<11} {m_off:>10,.0f} {m_on:>10,.0f} {m_on / m_off:>7.3f} {statistics.median(snaps):>9.0f}   "
              f"{', '.join(f'{v:,.0f}' for v in off)} | {', '.join(f'{v:,.0f}' for v in on)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
