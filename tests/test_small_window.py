"""Issue 16, item 3: every view (and every tab inside one) is usable in a 640x480 window and still right at
1920x1080: no button or label narrower than its text, no widget on top of another or cut off by its parent,
no plot legend over its plot (app/layout_check.py), and at 640 px no sideways scrolling."""

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QTabWidget, QWidget

from mnist_desktop.app import layout_check
from mnist_desktop.app.main_window import MINIMUM_SIZE, MainWindow

from test_draw_view import draw_seven


def settle():
    for _ in range(3):          # a reflow or a scrolling page relays out on the next pass
        QApplication.processEvents()


def pages_of(view: QWidget):
    """(name, select) for the view itself and each further tab of its first tab widget."""
    yield "", lambda: None
    tabs = view.findChildren(QTabWidget)
    if tabs:
        for i in range(1, tabs[0].count()):
            yield tabs[0].tabText(i), (lambda i=i: tabs[0].setCurrentIndex(i))


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080)])
def test_every_view_is_laid_out_without_clipping_or_overlaps(qtbot, no_shipped_models, make_model, size):
    window = MainWindow(persist=False)
    qtbot.addWidget(window)
    window.open_model(make_model("tiny"))
    window.show()
    window.resize(*size)
    draw_seven(window.draw_view)
    window.draw_view.refresh_now()
    settle()
    assert (window.width(), window.height()) == size
    found = []
    for key in window.view_keys():
        window.show_view(key)
        view = window.view(key)
        for name, select in list(pages_of(view)):
            select()
            settle()
            where = f"{key}{'/' + name if name else ''} at {size[0]}x{size[1]}"
            found += [f"{where}: {p}" for p in layout_check.problems(window)]
            if size[0] == 640:
                assert not view.scroll_area.horizontalScrollBar().isVisible(), f"{where} scrolls sideways"
    assert not found, "\n".join(found)


def test_the_window_can_be_made_640_by_480_and_no_smaller(qtbot, no_shipped_models):
    window = MainWindow(persist=False)
    qtbot.addWidget(window)
    window.show()
    window.resize(400, 300)
    settle()
    assert (window.width(), window.height()) == MINIMUM_SIZE == (640, 480)


def test_the_checker_finds_clipped_text_and_overlaps(qtbot):
    """The checks above can fail: a button too narrow for its text, a label on another, a child cut off."""
    root = QWidget()
    qtbot.addWidget(root)
    root.resize(300, 100)
    button = QPushButton("Saliency map", root)
    button.setGeometry(0, 0, 40, 24)            # would read "Sa…cy"
    a, b = QLabel("first caption", root), QLabel("second caption", root)
    a.setGeometry(0, 40, 120, 20)
    b.setGeometry(0, 50, 120, 20)               # half over the first
    cut = QLabel("cut", root)
    cut.setGeometry(280, 80, 60, 20)            # beyond the parent's right edge
    root.show()
    problems = layout_check.problems(root)
    assert any("QPushButton 'Saliency map' 40 px wide" in p for p in problems)
    assert any("overlaps QLabel 'second caption'" in p for p in problems)
    assert any("QLabel 'cut'" in p and "cut off" in p for p in problems)
    button.setGeometry(0, 0, 140, 24)
    b.setGeometry(130, 40, 120, 20)
    cut.setGeometry(200, 80, 60, 20)
    assert layout_check.problems(root) == []
