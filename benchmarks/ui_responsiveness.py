"""Does the window stay responsive while the Train view trains, and does training in the window run as fast
as on the command line?

  UI stall      while a preset (default cnn-seed) trains in the window, a 10 ms timer on the UI thread
                measures how late each tick comes: median, p99 and max lateness (the bar: < 50 ms)
  throughput    images/s of the first --batches batches in the window (TrainWorker, a JobRunner job) against
                the command line's Trainer driven directly on this thread, same network, settings, data and
                seed (the bar: window >= 0.9x command line)

    PYTHONPATH=. python benchmarks/ui_responsiveness.py [--batches 300] [--data DIR] [--preset cnn-seed]
                                                       [--repeats 1] [--interval-ms 10]

Runs offscreen with the threads the launched app has (benchmarks/launcher.py checks them against a real
launch; no thread variable may be set): both sides use the engine's threads. Data: --data, else wherever `mnist-desktop train`
finds MNIST, else the committed subset in tests/data. The throughput is each side's images/s within the
first epoch (BatchRecord.images_per_s), so --batches is capped at one epoch's batches. Each repeat runs the
command line and the window one after the other, the command line first in odd repeats, second in even ones. The load average printed before and after tells whether the machine
was busy: a loaded 2-core machine gives noisy numbers.
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
from PySide6.QtCore import QSettings, QTimer, qInstallMessageHandler  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from mnist_desktop.app import main_window as mw  # noqa: E402
from mnist_desktop.app.state import AppState  # noqa: E402
from mnist_desktop.app.widgets import configure_pyqtgraph  # noqa: E402
from mnist_desktop.data import find_dataset, load_dataset  # noqa: E402
from mnist_desktop.engine import BatchRecord, Trainer  # noqa: E402
from mnist_desktop.training import build_run, train_settings  # noqa: E402


def _options(preset: str) -> SimpleNamespace:
    keys = ("layers", "activation", "loss", "dropout", "augment", "optimizer", "lr", "momentum", "schedule",
            "batch_size", "epochs", "l2", "seed")
    return SimpleNamespace(preset=preset, **{k: None for k in keys})


def cli_throughput(preset: str, data, batches: int) -> float:
    """images/s of the command line's loop (``Trainer.run``) over the first ``batches`` batches."""
    net, config, augment = build_run(*train_settings(_options(preset)))
    trainer = Trainer(net, (data.x_train, data.y_train), (data.x_test, data.y_test), config, augment)
    rate = 0.0
    for record in trainer.run():
        if isinstance(record, BatchRecord):
            rate = record.images_per_s
            if record.batch >= batches:
                trainer.cancel()
    return rate


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


def window_run(app: QApplication, preset: str, data_dir: str, batches: int,
               interval_ms: int) -> tuple[float, list[float]]:
    """(images/s in the window, tick lateness in s) while the Train view trains ``preset``."""
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
    meter = StallMeter(interval_ms)
    result = {"rate": 0.0, "done": False}

    def watch() -> None:
        if not result["done"] and view.batches_seen >= batches:
            result["rate"] = view.last_progress.images_per_s
            result["done"] = True
            meter.stop()
            view.stop()
        if result["done"] and not view.running:
            app.quit()

    watcher = QTimer()
    watcher.timeout.connect(watch)
    watcher.start(50)
    started = {"meter": False}

    def on_first_batches() -> None:   # measure while training, not while the data loads
        if not started["meter"] and view.batches_seen > 0:
            started["meter"] = True
            meter.start()

    starter = QTimer()
    starter.timeout.connect(on_first_batches)
    starter.start(5)
    if not view.start():
        raise SystemExit(f"ui_responsiveness: could not start: {view.banner.text}")
    app.exec()
    watcher.stop()
    starter.stop()
    window.close()
    return result["rate"], meter.lateness


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="batches trained per measurement (default 300)")
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
    batches = min(args.batches, per_epoch)

    qInstallMessageHandler(mw._quiet_offscreen_notices)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    configure_pyqtgraph()

    print(f"# ui_responsiveness  {time.strftime('%Y-%m-%d %H:%M')}  {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"# {threads_line}")
    print(f"# {args.preset}, {batches} batches of {batch_size} (of {per_epoch} per epoch), "
          f"{len(data.x_train):,} training images from {folder}")
    if batches < args.batches:
        print(f"# --batches capped at one epoch of this data ({per_epoch})")
    cli_rates, win_rates, lateness = [], [], []
    for r in range(args.repeats):
        if r % 2 == 0:   # who goes first alternates: a machine speeding up or slowing down favours neither
            cli_rates.append(cli_throughput(args.preset, data, batches))
        rate, late = window_run(app, args.preset, str(folder), batches, args.interval_ms)
        win_rates.append(rate)
        lateness += late
        if r % 2 == 1:
            cli_rates.append(cli_throughput(args.preset, data, batches))
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
        ("window / command line", f"{win / cli:.2f}x" if cli else "–", ">= 0.95x"),
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
