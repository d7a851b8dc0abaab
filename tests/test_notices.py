"""Notice bars in the Draw view: they go when what they said stops being true, and never move the canvas."""

import numpy as np
from PySide6.QtGui import QImage

from mnist_desktop.app.main_window import MainWindow

SEVEN = [[(80, 60), (200, 60), (120, 230)], [(110, 140), (190, 140)]]


def window(qtbot):
    w = MainWindow(persist=False)
    qtbot.addWidget(w)
    w.resize(1100, 760)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_a_model_error_goes_once_a_model_opens(qtbot, tmp_path, make_model):
    w = window(qtbot)
    bad = tmp_path / "bad.npz"
    bad.write_text("not a model")
    assert w.open_model(bad) is None
    assert "Could not open the model" in w.draw_view.banner.text
    assert w.open_model(make_model("good")) is not None
    assert w.draw_view.banner.text == ""


def test_a_note_about_the_canvas_goes_with_clear(qtbot, tmp_path):
    w = window(qtbot)
    img = QImage(60, 60, QImage.Format_Grayscale8)
    img.fill(0)
    for y in range(10, 50):
        for x in range(28, 33):
            img.setPixel(x, y, 0xFFFFFFFF)
    path = tmp_path / "one.png"
    assert img.save(str(path))
    assert w.open_image(path)
    assert w.draw_view.save_drawing(tmp_path / "d.json") is False
    assert "opened image" in w.draw_view.banner.text
    w.draw_view_clear()
    assert w.draw_view.banner.text == ""


def test_a_notice_does_not_move_the_canvas(qtbot):
    w = window(qtbot)
    view = w.draw_view
    view.banner.dismiss()
    qtbot.waitUntil(lambda: view.banner.isHidden())
    before = view.canvas.mapTo(w, view.canvas.rect().topLeft()), view.canvas.size()
    view.show_message("Could not open the model; keeping the current one. x.npz: no such model file\n"
                      "and a second line\nand a third")
    qtbot.waitUntil(lambda: not view.banner.isHidden())
    w.layout().activate()
    view.layout().activate()
    after = view.canvas.mapTo(w, view.canvas.rect().topLeft()), view.canvas.size()
    assert before == after
    assert "third" in view.banner.toolTip()        # what does not fit is in the tooltip
