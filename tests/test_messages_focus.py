"""Issue 16, items 5 and 9: messages a new user meets (Save drawing refuses an opened image before any file
dialog; a failed download is one line with the mirrors' answers behind Details…; a text file is "not a model
file"; Save model confirms) and a visible focus ring on every Tab stop of the Draw view."""

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QFileDialog

from mnist_desktop.app import worker as worker_module
from mnist_desktop.app.main_window import MainWindow
from mnist_desktop.app.state import AppState
from mnist_desktop.app.train_view import TrainView
from mnist_desktop.data import DownloadError

from test_draw_view import draw_seven


@pytest.fixture
def window(qtbot, no_shipped_models, make_model):
    w = MainWindow(persist=False)
    qtbot.addWidget(w)
    w.open_model(make_model("tiny"))
    w.resize(1100, 760)
    w.show()
    return w


@pytest.fixture
def no_dialogs(monkeypatch):
    opened = []

    def fake(*args, **kwargs):
        opened.append(args[1] if len(args) > 1 else "")
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake)
    return opened


def test_save_drawing_refuses_an_image_before_the_dialog(window, tmp_path, no_dialogs):
    png = tmp_path / "digit.png"
    image = QImage(80, 80, QImage.Format_Grayscale8)
    image.fill(QColor("white"))
    for x in range(30, 50):
        for y in range(10, 70):
            image.setPixelColor(x, y, QColor("black"))
    assert image.save(str(png))
    assert window.open_image(png)
    window.ask_save_drawing()
    assert no_dialogs == []                                  # refused first: no dialog opened
    assert "opened image" in window.draw_view.banner.text and window.draw_view.banner.level == "warning"
    window.draw_view.clear()
    window.ask_save_drawing()
    assert no_dialogs == [] and "canvas is empty" in window.draw_view.banner.text
    draw_seven(window.draw_view)
    window.ask_save_drawing()
    assert no_dialogs == ["Save drawing"]                    # strokes: the dialog opens


def test_a_text_file_opened_as_a_model_is_not_a_model_file(window, tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("these are my notes, not a model\n" * 20)
    assert window.open_model(text) is None
    banner = window.draw_view.banner.text
    assert "not a model file" in banner and "pickle" not in banner.lower()


def test_save_model_says_it_saved(qtbot, tmp_path):
    from test_train_view import run_to_end, setup_tiny_run

    view = TrainView(AppState(), settings=None)
    qtbot.addWidget(view)
    view.show()
    setup_tiny_run(view, epochs=1)
    run_to_end(qtbot, view)
    assert view.save_model(tmp_path / "mine.npz")
    assert view.banner.level == "info" and f"Saved {tmp_path / 'mine.npz'}" in view.banner.text
    view.shutdown()


def test_a_failed_download_is_one_line_with_details_on_demand(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    failures = [(f"https://mirror{i}.example/train-images-idx3-ubyte.gz",
                 f"<urlopen error [Errno -3] Temporary failure in name resolution> (mirror {i})") for i in range(3)]

    def failing(name, dest=None, **kw):
        lines = "\n".join(f"  {u}: {r}" for u, r in failures)
        raise DownloadError(f"could not download train-images-idx3-ubyte.gz from any mirror:\n{lines}\n"
                            "Check the internet connection, or put the four files in the folder by hand.",
                            "train-images-idx3-ubyte.gz", failures)

    monkeypatch.setattr(worker_module, "download", failing)
    view = TrainView(AppState(), settings=None)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    panel = view.data_panel
    assert not panel.details_button.isVisibleTo(view)
    with qtbot.waitSignal(panel.download_finished, timeout=5_000):
        panel.start_download()
    shown = panel.where_label.text()
    assert "<br>" not in shown and "mirror0" not in shown and "any of the 3 mirrors" in shown
    assert panel.details_button.isVisibleTo(view) and not panel.details_label.isVisibleTo(view)
    panel.details_button.click()
    assert panel.details_label.isVisibleTo(view)
    assert all(u in panel.details_label.text() for u, _ in failures)
    panel.details_button.click()
    assert not panel.details_label.isVisibleTo(view)
    view.shutdown()


def test_every_tab_stop_in_the_draw_view_shows_a_focus_ring(qtbot, window):
    """Tab through the Draw view: whichever of its widgets has the focus, the ring surrounds it and is
    painted (the pixels around the widget change when the ring shows)."""
    view = window.draw_view
    draw_seven(view)
    view.refresh_now()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    first = view.pen_slider
    first.setFocus(Qt.TabFocusReason)
    qtbot.waitUntil(first.hasFocus, timeout=2_000)
    seen = []
    for _ in range(40):
        w = QApplication.focusWidget()
        if w is None or not view.isAncestorOf(w) or w in seen:
            break
        seen.append(w)
        ring = view.focus_ring
        assert ring.isVisible() and ring.target is w, type(w).__name__
        where = ring.geometry()
        assert where.contains(w.geometry().translated(w.parentWidget().mapTo(view, w.geometry().topLeft())
                                                      - w.geometry().topLeft()))
        with_ring = view.grab(where).toImage()
        ring.hide()
        without = view.grab(where).toImage()
        ring.show()
        assert with_ring != without, f"no visible focus on {type(w).__name__}"
        qtbot.keyClick(w, Qt.Key_Tab)
    names = {type(w).__name__ for w in seen}
    assert {"QSlider", "QPushButton", "QComboBox", "QToolButton"} <= names, names
