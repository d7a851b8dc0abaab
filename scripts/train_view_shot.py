"""A screenshot of the Train view in the middle of a real run, for the README.

    PYTHONPATH=. python scripts/train_view_shot.py                        # the committed subset (tests/data)
    PYTHONPATH=. python scripts/train_view_shot.py --data /path/to/mnist --per-class 1000 --out train.png
    PYTHONPATH=. python scripts/train_view_shot.py --size 1024x700 --out train-small.png

Opens the main window offscreen on the Train view, trains a small MLP (784-128-64-10, Adam) for --epochs
epochs, and saves the window once at least --after epochs are plotted, part-way through the next one, while
the run is still going. Then it stops the run and closes the window (no model is saved, no setting written).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "tests" / "data"), help="folder with the four MNIST IDX files")
    parser.add_argument("--out", default="train-view.png", help="PNG to write")
    parser.add_argument("--size", default="1280x800", help="window size, e.g. 1280x800")
    parser.add_argument("--layers", default="784-128-64-10", help="the custom MLP's layer sizes")
    parser.add_argument("--epochs", type=int, default=12, help="epochs of the run (it is stopped after the shot)")
    parser.add_argument("--after", type=int, default=4, help="take the shot once this many epochs are plotted")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--per-class", type=int, default=None, help="train on the first N images of each digit")
    parser.add_argument("--timeout", type=float, default=300, help="give up after this many seconds")
    args = parser.parse_args(argv)
    if args.after >= args.epochs:
        parser.error("--after must be smaller than --epochs: the shot is taken while the run goes on")
    w, h = (int(v) for v in args.size.lower().split("x"))

    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QCoreApplication, QSettings, QTimer, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from mnist_desktop.app import main_window as mw
    from mnist_desktop.app.state import AppState
    from mnist_desktop.app.widgets import configure_pyqtgraph

    qInstallMessageHandler(mw._quiet_offscreen_notices)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    configure_pyqtgraph()
    scratch = tempfile.TemporaryDirectory()    # fresh settings: the user's remembered form plays no part
    settings = QSettings(str(Path(scratch.name) / "settings.ini"), QSettings.IniFormat)
    window = mw.MainWindow(AppState(), settings=settings, persist=False)
    window.resize(w, h)
    view = window.view("train")
    if not view.data_panel.set_folder(args.data):
        print(f"train_view_shot: no MNIST files in {args.data}", file=sys.stderr)
        return 2
    panel, form = view.data_panel, view.form
    panel.subset_check.setChecked(args.per_class is not None)
    if args.per_class is not None:
        panel.subset_spin.setValue(args.per_class)
    form.set_preset(None)
    form.layers_edit.setText(args.layers)
    form.optimizer_combo.setCurrentText("adam")
    form.lr_spin.setValue(1e-3)
    form.schedule_combo.setCurrentText("cosine")
    form.batch_spin.setValue(args.batch_size)
    form.epochs_spin.setValue(args.epochs)
    for name, check in form.augment_checks.items():
        check.setChecked(name in ("rotate", "shift"))
    window.show_view("train")
    window.show()

    shot = {"taken": False, "ok": False}
    t0 = time.monotonic()

    def poll() -> None:
        if shot["taken"]:
            return
        mid_epoch = 150 <= view.epoch_bar.value() <= 700
        if view.running and len(view.history) >= args.after and mid_epoch:
            view.plots.flush()
            app.processEvents()
            shot["ok"] = window.grab().save(args.out, "PNG")
            shot["taken"] = True
            print(f"saved {args.out} ({window.width()}x{window.height()}) after {len(view.history)} epochs, "
                  f"{time.monotonic() - t0:.1f}s")
            view.stop()
            QTimer.singleShot(0, window.close)
        elif not view.running and view.outcome is not None:
            print(f"train_view_shot: the run ended before the shot ({view.outcome.message})", file=sys.stderr)
            shot["taken"] = True
            window.close()
        elif time.monotonic() - t0 > args.timeout:
            print("train_view_shot: timed out", file=sys.stderr)
            shot["taken"] = True
            view.stop()
            window.close()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    window.destroyed.connect(app.quit)
    if not view.start():
        print(f"train_view_shot: could not start: {view.banner.text}", file=sys.stderr)
        return 2
    QCoreApplication.instance().lastWindowClosed.connect(app.quit)
    app.exec()
    window.close()   # shuts the view down (waits for the training thread)
    return 0 if shot["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
