"""The GUI entry point: ``run_app`` (cli.py calls it when no subcommand is given), ``--screenshot`` and the
startup mark that benchmarks/startup.py waits for."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QCoreApplication, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from mnist_desktop.app.logs import setup_logging
from mnist_desktop.app.main_window import STARTUP_MARK, MainWindow, _quiet_offscreen_notices
from mnist_desktop.app.state import APPLICATION, ORGANIZATION, app_data_dir
from mnist_desktop.app.style import app_icon
from mnist_desktop.app.widgets import configure_pyqtgraph
from mnist_desktop.engine import threads


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size looks like 1280x800, got {text!r}") from None
    if not (200 <= w <= 10000 and 200 <= h <= 10000):
        raise ValueError(f"--size must be between 200x200 and 10000x10000, got {text!r}")
    return w, h


def _save_screenshot(app: QApplication, window: MainWindow, path) -> int:
    """Show the window offscreen, let the current view finish its background work (bounded), save it as
    a PNG at ``path`` and close it: 0, or 1 if the file could not be written."""
    window.show()
    app.processEvents()
    window.draw_view.refresh_now()
    prepare = getattr(window.tabs.currentWidget(), "prepare_screenshot", None)
    if callable(prepare):   # a view with background work waits for it (bounded)
        prepare()
    app.processEvents()
    ok = window.grab().save(str(path), "PNG")
    window.close()
    window.deleteLater()
    if not ok:
        print(f"mnist-desktop: could not write {path}", file=sys.stderr)
        return 1
    print(f"saved {path} ({window.width()}x{window.height()})")
    return 0


def run_app(args) -> int:
    """The GUI entry point (cli.py calls it with no subcommand). args: .model, .screenshot, .view, .size.

    --screenshot PNG renders offscreen, saves the window and returns 0. With the environment variable
    MNIST_DESKTOP_STARTUP_MARK=1 the app prints STARTUP_MARK once the window is shown and quits (used by
    benchmarks/startup.py)."""
    screenshot = getattr(args, "screenshot", None)
    size = None
    if getattr(args, "size", None):
        try:
            size = _parse_size(args.size)
        except ValueError as exc:
            print(f"mnist-desktop: {exc}", file=sys.stderr)
            return 2
    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"   # before the QApplication exists
        qInstallMessageHandler(_quiet_offscreen_notices)
    mark = os.environ.get("MNIST_DESKTOP_STARTUP_MARK") == "1"

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    QApplication.setDesktopFileName(APPLICATION)    # resources/mnist-desktop.desktop: the icon on Wayland too
    if not (screenshot or mark):                    # a screenshot or a startup timing writes no files
        setup_logging(app_data_dir())
    configure_pyqtgraph()

    window = MainWindow(persist=not (screenshot or mark))
    window.draw_view.auto_calibrate = not (screenshot or mark)   # a model without a .calib gets one computed
    window.load_startup_model(getattr(args, "model", None))
    if getattr(args, "view", None):
        try:
            window.show_view(args.view)
        except KeyError as exc:
            print(f"mnist-desktop: {exc.args[0]}", file=sys.stderr)
            window.deleteLater()
            return 2
    drawing = getattr(args, "drawing", None)
    if drawing:
        window.open_drawing(drawing)
    if size or screenshot:
        window.resize(*(size or (1280, 800)))

    if screenshot:
        return _save_screenshot(app, window, screenshot)
    window.show()
    if mark:
        app.processEvents()
        print(STARTUP_MARK, flush=True)
        print(f"mnist-desktop: BLAS threads {threads.blas_threads()}, engine threads {threads.threads()}", flush=True)
        window.close()
        return 0
    return app.exec()
