"""What ships beside the code: the application icon (SVG + PNG sizes), the desktop entry, the example
drawings (each read as its digit by the shipped models), the licence, the version, and the app's log file."""

import configparser
import json
import logging
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QIcon, QImage
from PySide6.QtSvg import QSvgRenderer

from mnist_desktop import __version__, cli, shipped
from mnist_desktop.app.jobs import JobRunner
from mnist_desktop.app.logs import setup_logging, teardown_logging
from mnist_desktop.app.main_window import MainWindow
from mnist_desktop.app.state import app_data_dir
from mnist_desktop.drawing import read_drawing

ROOT = Path(__file__).resolve().parents[1]


def test_the_icon_is_an_svg_with_square_pngs_of_every_size():
    assert shipped.RESOURCES_DIR == ROOT / "resources"
    renderer = QSvgRenderer(str(shipped.ICON_SVG))
    assert renderer.isValid() and renderer.defaultSize().width() == renderer.defaultSize().height()
    pngs = shipped.icon_files()[1:]
    sizes = [int(p.stem.rsplit("-", 1)[1]) for p in pngs]
    assert sizes == sorted(sizes) and {16, 32, 48, 64, 128, 256} <= set(sizes)
    for path, n in zip(pngs, sizes):
        image = QImage(str(path))
        assert (image.width(), image.height()) == (n, n) and image.hasAlphaChannel()
        assert image.pixelColor(0, 0).alpha() == 0 and image.pixelColor(n // 2, n // 2).alpha() == 255


def test_the_desktop_entry_launches_the_console_script_with_the_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(shipped.DESKTOP_FILE, encoding="utf-8")
    e = entry["Desktop Entry"]
    assert e["Type"] == "Application" and e["Name"] == "mnist-desktop" and e["Terminal"] == "false"
    script = re.search(r"^mnist-desktop = \"mnist_desktop.cli:main\"$", (ROOT / "pyproject.toml").read_text(), re.M)
    assert script and e["Exec"].split()[0] == "mnist-desktop" and e["TryExec"] == "mnist-desktop"
    assert e["Icon"] == shipped.ICON_SVG.stem and e["StartupWMClass"] == "mnist-desktop"
    assert e["Categories"].endswith(";") and "Education" in e["Categories"].split(";")


def test_every_example_drawing_is_read_as_its_digit_by_the_shipped_models(capsys):
    examples = shipped.example_drawings()
    assert sorted(examples) == list(range(10))
    for digit, path in examples.items():
        d = read_drawing(path)
        assert (d.width, d.height) == (280, 280) and d.strokes
    for model in shipped.shipped_models():
        assert cli.main(["predict", *map(str, examples.values()), "--model", str(model), "--json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["digit"] for r in lines] == list(range(10)), model.name
        assert min(r["probabilities"][r["digit"]] for r in lines) > 0.9


def test_licence_and_version():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    text = (ROOT / "pyproject.toml").read_text()
    assert 'license = "MIT"' in text and 'license-files = ["LICENSE"]' in text
    out = subprocess.run([sys.executable, "-m", "mnist_desktop", "--version"], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"mnist-desktop {__version__}"
    assert not (ROOT / "models").is_symlink()


# ---- the window: icon, examples menu, log folder ------------------------------------------------------------


@pytest.fixture
def window(qtbot, no_shipped_models):
    w = MainWindow(persist=False)
    qtbot.addWidget(w)
    return w


def test_the_window_has_the_icon(window):
    icon = window.windowIcon()
    assert not icon.isNull() and {s.width() for s in icon.availableSizes()} >= {16, 32, 64, 256}


def test_the_application_has_the_icon_and_its_desktop_entry(qapp, tmp_path, no_shipped_models):
    """run_app (the GUI entry point) sets the icon on the application too (dialogs, the task bar) and names
    the desktop entry, which is how Wayland finds the icon."""
    qapp.setWindowIcon(QIcon())
    assert cli.main(["--screenshot", str(tmp_path / "window.png")]) == 0
    icon = qapp.windowIcon()
    assert not icon.isNull() and {s.width() for s in icon.availableSizes()} >= {16, 32, 64, 256}
    assert QGuiApplication.desktopFileName() == shipped.DESKTOP_FILE.stem == "mnist-desktop"


def test_try_an_example_opens_the_drawing_in_the_draw_view(window, make_model):
    window.open_model(make_model())
    actions = window.examples_menu.actions()
    assert [a.text() for a in actions] == [f"A drawn {d}" for d in range(10)]
    window.show_view("train")
    actions[7].trigger()
    assert window.current_view_key() == "draw"
    assert window.draw_view.canvas.strokes() == read_drawing(shipped.example_drawings()[7]).strokes


def test_help_open_log_folder_shows_the_app_data_folder(window, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    window.open_log_folder_action.trigger()
    assert opened == [QUrl.fromLocalFile(str(app_data_dir()))]
    assert app_data_dir().is_dir() and "mnist-desktop" in str(app_data_dir())


# ---- the log file --------------------------------------------------------------------------------------------


@pytest.fixture
def log_path(tmp_path):
    path = setup_logging(tmp_path, stderr=False)
    yield path
    teardown_logging()


def test_a_failed_job_is_logged_with_its_traceback(log_path, qtbot):
    runner = JobRunner(name="test")

    def work(job):
        raise ValueError("no such layer: 'flux'")

    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.start("main", work)
    logging.getLogger("mnist_desktop.somewhere").info("routine: not logged")
    text = log_path.read_text(encoding="utf-8")
    assert "WARNING mnist_desktop.app.jobs" in text and "ValueError: no such layer: 'flux'" in text
    assert "Traceback (most recent call last)" in text and "in work" in text
    assert "routine" not in text


def test_uncaught_exceptions_in_threads_are_logged(log_path):
    def boom():
        raise RuntimeError("worker exploded")

    t = threading.Thread(target=boom, name="doomed")
    t.start()
    t.join()
    text = log_path.read_text(encoding="utf-8")
    assert "uncaught exception in thread doomed" in text and "RuntimeError: worker exploded" in text


def test_teardown_restores_the_hooks(tmp_path):
    before = (sys.excepthook, threading.excepthook)
    setup_logging(tmp_path, stderr=False)
    setup_logging(tmp_path, stderr=False)             # twice: replaced, not doubled
    assert len([h for h in logging.getLogger("mnist_desktop").handlers if getattr(h, "_mnist_desktop_handler", 0)]) == 1
    teardown_logging()
    assert (sys.excepthook, threading.excepthook) == before
