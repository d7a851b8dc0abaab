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
and the after-epoch ones included. The same is measured in process CPU time (all threads), which a busy
machine disturbs far less than wall time, and the time spent taking snapshots is summed directly
(``take_snapshot`` timed in place) as a share of the training time. The table gives the medians of each
side, their ratios, the best (fastest) run of each side and its ratio (on a shared machine the least
disturbed run is the best estimate of the speed itself), the snapshots per run and that share. The issue's bar: on / off >= 0.95.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when a script runs)


class Reporter:
    """What a JobRunner job gives the work: report() and on_cancel(); counts the snapshots and notes when
    the data arrived."""

    def __init__(self) -> None:
        self.snapshots = 0
        self.data_at = None
        self.eval_seconds = 0.0
        self.start = time.perf_counter()

    def report(self, kind, payload) -> None:
        if kind == "weights":
            self.snapshots += 1
        elif kind == "data":
            self.data_at = time.perf_counter()
        elif kind == "epoch":
            self.eval_seconds += payload.eval_seconds

    def on_cancel(self, callback) -> None:
        pass


SNAPSHOT_SECONDS = [0.0]


def _timed_snapshots() -> None:
    """Time every live_weights.take_snapshot the worker makes (it looks the function up on each call)."""
    from mnist_desktop import live_weights

    real = live_weights.take_snapshot

    def timed(*a, **kw):
        t = time.perf_counter()
        try:
            return real(*a, **kw)
        finally:
            SNAPSHOT_SECONDS[0] += time.perf_counter() - t

    live_weights.take_snapshot = timed


def one_run(preset: str, every: int, args) -> tuple[float, float, int, float]:
    """-> (images/s by wall time, images/s by process CPU time, snapshots, seconds in snapshots / training
    seconds), the scoring left out of both clocks."""
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
    SNAPSHOT_SECONDS[0] = 0.0
    cpu0 = time.process_time()
    outcome = worker.run(reporter)
    end, cpu1 = time.perf_counter(), time.process_time()
    if outcome.status != "finished":
        sys.exit(f"{preset}: the run ended {outcome.status}: {outcome.message}")
    images = outcome.data.train_images * config.epochs
    wall = end - reporter.data_at - reporter.eval_seconds
    # CPU: the loading and scoring are taken out at the wall-to-CPU rate of the run as a whole
    cpu = (cpu1 - cpu0) * wall / (end - reporter.start)
    return images / wall, images / cpu, reporter.snapshots, SNAPSHOT_SECONDS[0] / wall


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
    print("img/s: medians, wall clock and process CPU time; share: time in snapshots / training time")
    print(f"{'preset':<11} {'wall off':>9} {'wall on':>9} {'on/off':>7} {'CPU off':>9} {'CPU on':>9} {'on/off':>7} "
          f"{'best off':>9} {'best on':>9} {'on/off':>7} {'snaps':>5} {'share':>7}   wall runs (off | on)")
    _timed_snapshots()
    for preset in args.presets.split(","):
        one_run(preset, 0, argparse.Namespace(**{**vars(args), "epochs": 1, "per_class": 50}))   # warm-up
        runs = {0: [], every: []}
        for r in range(args.rounds):
            for e in ((0, every) if r % 2 == 0 else (every, 0)):
                runs[e].append(one_run(preset, e, args))
        med = {e: [statistics.median(v[i] for v in runs[e]) for i in range(4)] for e in runs}
        off, on = med[0], med[every]
        best_off, best_on = max(v[0] for v in runs[0]), max(v[0] for v in runs[every])
        print(f"{preset:<11} {off[0]:>9,.0f} {on[0]:>9,.0f} {on[0] / off[0]:>7.3f} {off[1]:>9,.0f} {on[1]:>9,.0f} "
              f"{on[1] / off[1]:>7.3f} {best_off:>9,.0f} {best_on:>9,.0f} {best_on / best_off:>7.3f} {on[2]:>5.0f} {on[3] * 100:>6.2f}%   "
              f"{', '.join(f'{v[0]:,.0f}' for v in runs[0])} | {', '.join(f'{v[0]:,.0f}' for v in runs[every])}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
