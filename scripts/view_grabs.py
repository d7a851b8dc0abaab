"""Grabs of every view (and every tab inside a view) at given window sizes, to look at as a user would.

    PYTHONPATH=. python scripts/view_grabs.py --sizes 640x480,1920x1080 --out /tmp/grabs
    PYTHONPATH=. python scripts/view_grabs.py --drawing resources/examples/digit-3.json   # something on the canvas

Opens the main window offscreen with the shipped CNN (settings read, never written), shows each view at each
size, lets a view with background work finish it (``prepare_screenshot``, bounded), and saves
``<out>/<size>-<view>[-<tab>].png``. It prints the window's minimum size and, per grab, the clipped or
overlapping widgets ``app.layout_check`` finds (the same check tests/test_small_window.py makes).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x480,1920x1080")
    parser.add_argument("--out", default="grabs")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--drawing", default=None, help="a drawing JSON to put on the canvas first")
    args = parser.parse_args(argv)

    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QCoreApplication, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication, QTabWidget

    from mnist_desktop.app import layout_check
    from mnist_desktop.app.main_window import MainWindow, _quiet_offscreen_notices
    from mnist_desktop.app.state import APPLICATION, ORGANIZATION
    from mnist_desktop.app.widgets import configure_pyqtgraph

    qInstallMessageHandler(_quiet_offscreen_notices)
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    configure_pyqtgraph()
    window = MainWindow(persist=False)
    window.load_startup_model(args.model)
    if args.drawing:
        window.open_drawing(args.drawing)
    window.show()
    app.processEvents()
    window.draw_view.refresh_now()
    m = window.minimumSizeHint()
    print(f"window minimum size hint {m.width()}x{m.height()}, minimum {window.minimumWidth()}x{window.minimumHeight()}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        window.resize(w, h)
        for key in window.view_keys():
            window.show_view(key)
            view = window.view(key)
            app.processEvents()
            prepare = getattr(view, "prepare_screenshot", None)
            if callable(prepare):
                prepare()
            inner = [t for t in view.findChildren(QTabWidget)] if not isinstance(view, QTabWidget) else [view]
            pages = [(None, None)] + [(t, i) for t in inner[:1] for i in range(1, t.count())]
            for tabs, i in pages:
                if tabs is not None:
                    tabs.setCurrentIndex(i)
                for _ in range(3):          # relayouts the first pass schedules (a reflow, a scrolling page)
                    app.processEvents()
                name = f"{size}-{key}" + (f"-{i}" if tabs is not None else "")
                window.grab().save(str(out / f"{name}.png"))
                problems = layout_check.problems(window)
                print(f"{name}: {window.width()}x{window.height()} {len(problems)} problem(s)")
                for p in problems:
                    print(f"    {p}")
            if inner:
                inner[0].setCurrentIndex(0)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
