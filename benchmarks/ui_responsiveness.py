"""Does the window stay responsive while the Train view trains, and does training in the window run as fast
as on the command line?

  UI stall      while a preset (default cnn-seed) trains in the window, a 10 ms timer on the UI thread
                measures how late each tick comes: median, p99 and max lateness (the bar: < 50 ms)
  throughput    images/s of the window's training (TrainWorker, a JobRunner job, with the view drawing its
                progress) against the command line's loop (``Trainer.run`` driven on this thread), same
                network, settings, data and seed (the bar: window >= 0.95x command line in every repeat)

    PYTHONPATH=. python benchmarks/ui_responsiveness.py [--slices 12] [--slice-seconds 1.5] [--data DIR]
                                                       [--preset cnn-seed] [--repeats 1] [--interval-ms 10]

Each repeat opens a fresh window and a fresh command-line Trainer and lets them train **in turns**:
``--slices`` pairs of slices of ``--slice-seconds`` each, the window first in odd pairs, the command line
first in even ones, the other side paused meanwhile (the window with its Pause, which parks the worker between
batches; the command line's generator simply not advanced). This machine's speed drifts by 10-20% over a
few seconds with nothing else running (one repeat's command line ran at 4,546 img/s, the next at 5,479),
so two runs one after the other measured the drift as much as the window; slices a second or two long,
alternating, put both sides through the same spells (even so, two neighbouring 1.5 s slices of the same
side differ by up to 10%, hence 12 pairs of slices a repeat). One slice of each side before them is a warm-up, not
counted (the window's first pictures of the run, each side's first batches). A side's rate within a
slice is measured over the batches that ended in it, from the first to the last (the Trainer's own batch
records: batches trained / seconds between them), so the pause, the resume and the hand-over are outside
every measured interval; a batch record's clock starts with its epoch, so an epoch's end-of-epoch scoring
is outside too. The window's records are taken as its worker's Trainer yields them (a subclass that notes
each one and yields it on: the worker, its reports and the view are the app's own). A repeat's rate for
a side is its batches over its seconds across all slices. The stalls are measured in slices of their own,
one after each pair (the window training, the 10 ms timer running, nothing counted for throughput): the
timer's own Python call, 100 times a second, cost the window's training 2-3% in the slices it ran in.

Runs offscreen with the threads the launched app has (benchmarks/launcher.py checks them against a real
launch; no thread variable may be set): both sides use the engine's threads. Data: --data, else wherever
`mnist-desktop train` finds MNIST, else the committed subset in tests/data. The load average printed
before and after tells whether the machine was busy: a loaded 2-core machine gives noisy numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import launcher  # noqa: E402  (first: the command line loads NumPy before Qt, as `mnist-desktop` does)
import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, QTimer, qInstallMessageHandler  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from mnist_desktop.app import main_window as mw  # noqa: E402
from mnist_desktop.app import worker as worker_module  # noqa: E402
from mnist_desktop.app.state import AppState  # noqa: E402
from mnist_desktop.app.widgets import configure_pyqtgraph  # noqa: E402
from mnist_desktop.data import find_dataset, load_dataset  # noqa: E402
from mnist_desktop.engine import BatchRecord, Trainer  # noqa: E402
from mnist_desktop.training import build_run, train_settings  # noqa: E402


def _options(preset: str) -> SimpleNamespace:
    keys = ("layers", "activation", "loss", "dropout", "augment", "optimizer", "lr", "momentum", "schedule",
            "batch_size", "epochs", "l2", "seed")
    return SimpleNamespace(preset=preset, **{k: None for k in keys})


class StallMeter:
    """A timer on the UI thread every ``interval_ms``; ``lateness`` collects how late each tick came (s)."""

    def __init__(self, interval_ms: int) -> None:
        self.interval = interval_ms / 1000
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.lateness: list[float] = []
        self._last = None

    def start(self) -> None:
        self.lateness, self._last = [], time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lateness.append(max(0.0, now - self._last - self.interval))
        self._last = now


class Clock:
    """(epoch, batch, seconds) points of one side within the current slice: its rate is measured between
    consecutive points of one epoch (both batches ended inside the slice, so the pauses fall outside; a
    batch record's seconds count from its epoch's start, so the scoring between epochs falls outside too)."""

    def __init__(self) -> None:
        self.points: list[tuple[int, int, float]] = []   # appended on the training thread (atomic appends)
        self.images, self.seconds = 0, 0.0

    def add(self, epoch: int, batch: int, seconds: float) -> None:
        self.points.append((epoch, batch, seconds))

    def close_slice(self, batch_size: int) -> float:
        """End the slice: add its batches and seconds to the totals; returns its images/s (nan: too short)."""
        points, self.points = self.points, []   # the side is paused: nothing is being appended
        images, seconds = 0, 0.0
        for (e0, b0, s0), (e1, b1, s1) in zip(points, points[1:]):
            if e1 == e0:
                images += (b1 - b0) * batch_size
                seconds += s1 - s0
        if seconds <= 0:
            return float("nan")
        self.images += images
        self.seconds += seconds
        return images / seconds

    def reset_totals(self) -> None:
        """Forget the slices so far (the warm-up): ``rate`` counts only the slices closed after this."""
        self.images, self.seconds = 0, 0.0

    @property
    def rate(self) -> float:
        return self.images / self.seconds if self.seconds else float("nan")


def run_until(app: QApplication, done, timeout: float) -> None:
    """Run the event loop until ``done()`` (checked every 2 ms) or ``timeout`` seconds; ``done=None``: for
    ``timeout`` seconds exactly, with no polling timer waking the UI thread meanwhile."""
    loop = QEventLoop()
    deadline = time.perf_counter() + timeout
    poll = QTimer()
    if done is None:
        poll.setSingleShot(True)
        poll.timeout.connect(loop.quit)
        poll.start(round(timeout * 1000))
    else:
        poll.timeout.connect(lambda: (done() or time.perf_counter() > deadline) and loop.quit())
        poll.start(2)
    loop.exec()
    poll.stop()


def interleaved_repeat(app: QApplication, preset: str, data, data_dir: str, slices: int, slice_seconds: float,
                       interval_ms: int) -> tuple[float, float, list[float], list[tuple[float, float]]]:
    """(window images/s, command line images/s, tick lateness in s, per-slice (window, command line)
    rates) for one repeat: both sides train ``preset`` in alternating slices (see the module docstring)."""
    net, config, augment = build_run(*train_settings(_options(preset)))
    cli_trainer = Trainer(net, (data.x_train, data.y_train), (data.x_test, data.y_test), config, augment)
    cli_records = cli_trainer.run()

    scratch = tempfile.TemporaryDirectory()
    settings = QSettings(str(Path(scratch.name) / "settings.ini"), QSettings.IniFormat)
    window = mw.MainWindow(AppState(), settings=settings, persist=False)
    window.resize(1280, 800)
    view = window.view("train")
    if not view.data_panel.set_folder(data_dir):
        raise SystemExit(f"ui_responsiveness: no MNIST files in {data_dir}")
    view.data_panel.subset_check.setChecked(False)
    view.form.set_preset(preset)
    window.show_view("train")
    window.show()
    app.processEvents()
    win_clock, cli_clock = Clock(), Clock()
    class RecordingTrainer(Trainer):   # the window's Trainer, every batch's record also on the window's clock
        def run(self):
            for record in super().run():
                if isinstance(record, BatchRecord):
                    win_clock.add(record.epoch, record.batch, record.seconds)
                yield record

    worker_module.Trainer = RecordingTrainer
    if not view.start():
        raise SystemExit(f"ui_responsiveness: could not start: {view.banner.text}")
    run_until(app, lambda: view.batches_seen > 0, 120)   # the data is loaded and training is under way
    view.pause()
    run_until(app, lambda: view._worker.held, 10)
    win_clock.points = []
    meter = StallMeter(interval_ms)
    lateness: list[float] = []
    per_slice = []

    def window_slice(stalls: bool) -> float:
        """A slice of the window's training: with ``stalls``, the 10 ms timer records the event loop's
        lateness and the slice's rate is not counted (the timer is this script's, not the app's: a Python
        call 100 times a second cost the window ~1% of a core and 2-3% of its throughput); without, the
        rate counts and nothing of the script's runs on the UI thread."""
        if stalls:
            meter.start()
        view.resume()
        run_until(app, None, slice_seconds)
        view.pause()
        run_until(app, lambda: view._worker.held, 10)
        app.processEvents()            # reports sent before the worker parked
        if stalls:
            meter.stop()
            lateness.extend(meter.lateness)
            win_clock.points = []
            return float("nan")
        return win_clock.close_slice(config.batch_size)

    def cli_slice() -> float:
        end = time.perf_counter() + slice_seconds
        while time.perf_counter() < end:
            record = next(cli_records)
            if isinstance(record, BatchRecord):
                cli_clock.add(record.epoch, record.batch, record.seconds)
        return cli_clock.close_slice(config.batch_size)

    window_slice(stalls=False)   # warm-up, not counted: the first pictures of the run, the first batches
    cli_slice()                  # of each side after a pause
    win_clock.reset_totals()
    cli_clock.reset_totals()
    for k in range(slices):      # a throughput pair (who goes first alternates), then a stall slice
        if k % 2 == 0:
            w = window_slice(stalls=False)
            c = cli_slice()
        else:
            c = cli_slice()
            w = window_slice(stalls=False)
        per_slice.append((w, c))
        window_slice(stalls=True)
    cli_trainer.cancel()
    cli_records.close()
    view.stop()
    view.resume()
    run_until(app, lambda: not view.running, 60)
    worker_module.Trainer = Trainer
    window.close()
    return win_clock.rate, cli_clock.rate, lateness, per_slice


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=12,
                        help="throughput slice pairs per repeat (default 12), each followed by a stall slice")
    parser.add_argument("--slice-seconds", type=float, default=1.5, help="length of one slice (default 1.5 s)")
    parser.add_argument("--data", help="folder with the MNIST IDX files")
    parser.add_argument("--preset", default="cnn-seed")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--interval-ms", type=int, default=10)
    args = parser.parse_args(argv)
    threads_line = launcher.check()

    folder = find_dataset("mnist", args.data) or ROOT / "tests" / "data"
    data = load_dataset("mnist", folder)
    batch_size = build_run(*train_settings(_options(args.preset)))[1].batch_size
    per_epoch = -(-len(data.x_train) // batch_size)

    qInstallMessageHandler(mw._quiet_offscreen_notices)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    configure_pyqtgraph()

    print(f"# ui_responsiveness  {time.strftime('%Y-%m-%d %H:%M')}  {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"# {threads_line}")
    print(f"# {args.preset}, batches of {batch_size} ({per_epoch} per epoch), {len(data.x_train):,} training images "
          f"from {folder}; each repeat: {args.slices} pairs of {args.slice_seconds:g} s slices taking turns, each "
          f"followed by a {args.slice_seconds:g} s stall slice")
    cli_rates, win_rates, lateness = [], [], []
    for r in range(args.repeats):
        win, cli, late, per_slice = interleaved_repeat(app, args.preset, data, str(folder), args.slices,
                                                      args.slice_seconds, args.interval_ms)
        win_rates.append(win)
        cli_rates.append(cli)
        lateness += late
        print(f"# repeat {r + 1}: window {win:,.0f}, command line {cli:,.0f} img/s ({win / cli:.2f}x); slices "
              + ", ".join(f"{w:,.0f}/{c:,.0f}" for w, c in per_slice))
    ms = np.array(lateness) * 1000
    cli, win = statistics.median(cli_rates), statistics.median(win_rates)
    stall_max = float(ms.max()) if len(ms) else float("nan")
    rows = [
        ("UI stall median (ms)", f"{np.median(ms):.1f}" if len(ms) else "–", "< 50"),
        ("UI stall p99 (ms)", f"{np.percentile(ms, 99):.1f}" if len(ms) else "–", "< 50"),
        ("UI stall max (ms)", f"{stall_max:.1f}", "< 50"),
        ("timer ticks measured", f"{len(ms):,}", ""),
        ("command line images/s", f"{cli:,.0f}", ""),
        ("window images/s", f"{win:,.0f}", ""),
        ("window / command line (median of the repeats)",
         f"{statistics.median(w / c for w, c in zip(win_rates, cli_rates)):.2f}x" if all(cli_rates) else "–", ">= 0.95x"),
        ("worst repeat's window / command line", f"{min(w / c for w, c in zip(win_rates, cli_rates)):.2f}x"
         if all(cli_rates) else "–", ">= 0.95x"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  {'value':>10}  bar")
    for name, value, bar in rows:
        print(f"{name:<{width}}  {value:>10}  {bar}")
    if args.repeats > 1:
        print(f"# per repeat: command line {', '.join(f'{r:,.0f}' for r in cli_rates)}; "
              f"window {', '.join(f'{r:,.0f}' for r in win_rates)}")
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
