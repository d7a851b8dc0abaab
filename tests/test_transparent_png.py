"""A transparent PNG with dark ink (a digit cut out of a scan, a drawing app's export) shows dark ink on
light paper on the canvas, as the network reads it, not black ink on the black canvas."""

import numpy as np
from PySide6.QtGui import QColor, QImage

from mnist_desktop.app.draw_view import DrawView
from mnist_desktop.app.state import AppState


def test_dark_ink_on_clear_paper_is_shown_on_white_paper(qtbot, tmp_path):
    img = QImage(100, 100, QImage.Format_ARGB32)
    img.fill(QColor(0, 0, 0, 0))                       # fully transparent
    for y in range(15, 85):
        for x in range(45, 55):
            img.setPixelColor(x, y, QColor(10, 10, 10, 255))   # a dark "1"
    path = tmp_path / "one.png"
    assert img.save(str(path))
    view = DrawView(AppState())
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    assert view.open_image(path)
    shot = view.canvas.grab().toImage()
    w, h = shot.width(), shot.height()
    corner = QColor(shot.pixel(w // 2 - w // 4, h // 2))  # paper, left of the stroke
    centre = QColor(shot.pixel(w // 2, h // 2))           # the ink
    assert corner.lightness() > 200 and centre.lightness() < 60, (corner.lightness(), centre.lightness())
    pre = view.refresh_now().pre
    assert pre is not None and pre.inverted and pre.image.max() > 0.5   # the network sees white ink on black
