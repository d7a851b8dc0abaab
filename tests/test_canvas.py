"""The drawing canvas: strokes as vectors, the same pixels as the command line, undo, images, input events."""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QMouseEvent, QPointingDevice, QTabletEvent

from mnist_desktop.app.canvas import DrawingCanvas
from mnist_desktop.app.imageio import render_drawing
from mnist_desktop.drawing import Drawing

SEVEN = [[(80, 60), (200, 60), (120, 230)]]
VERTICAL = [(140, 40), (140, 240)]


@pytest.fixture
def canvas(qtbot):
    c = DrawingCanvas()
    qtbot.addWidget(c)
    c.resize(400, 400)
    return c


def _mouse(canvas, kind, pos, button=Qt.LeftButton, buttons=Qt.LeftButton):
    ev = QMouseEvent(kind, QPointF(pos), canvas.mapToGlobal(QPointF(pos)), button, buttons, Qt.NoModifier)
    canvas.event(ev)


def test_changed_is_emitted_while_the_stroke_is_drawn(canvas):
    """Each point of a stroke in progress emits `changed`, not only the pen lift."""
    seen = []
    canvas.changed.connect(lambda: seen.append(canvas.is_drawing()))
    canvas.begin_stroke((10, 10))
    canvas.extend_stroke([(20, 20)])
    canvas.extend_stroke([(30, 25)])
    canvas.extend_stroke([(30, 25)])  # no movement: nothing new
    assert seen == [True, True, True]
    canvas.end_stroke()
    assert canvas.strokes() == [[(10, 10), (20, 20), (30, 25)]]


def test_pixels_are_the_rendered_drawing(canvas):
    canvas.add_stroke(VERTICAL)
    px = canvas.pixels()
    assert px.shape == (280, 280) and px.dtype == np.float32
    np.testing.assert_array_equal(px, render_drawing(canvas.drawing()))
    assert px[140, 140] > 0.99          # on the line
    assert px[140, 140 + 12] == 0.0     # beyond half the 18 px pen
    assert px[10, 10] == 0.0


def test_pixels_do_not_depend_on_the_widget_size(canvas):
    for s in SEVEN:
        canvas.add_stroke(s)
    small = canvas.pixels()
    canvas.resize(900, 500)
    np.testing.assert_array_equal(canvas.pixels(), small)


def test_pen_width_changes_the_ink(canvas):
    canvas.add_stroke(VERTICAL)
    thin = canvas.pixels()[140].sum()
    canvas.set_pen_width(30)
    assert canvas.drawing().pen_width == 30
    assert canvas.pixels()[140].sum() > thin * 1.4


def test_undo_and_clear(canvas):
    canvas.add_stroke(VERTICAL)
    canvas.add_stroke([(50, 50), (60, 60)])
    assert canvas.undo()
    assert canvas.strokes() == [VERTICAL]
    canvas.clear()
    assert canvas.is_blank() and not canvas.pixels().any()
    assert canvas.undo()                 # clear is undoable: an accidental Del loses nothing
    assert canvas.strokes() == [VERTICAL]
    assert canvas.undo()
    assert canvas.is_blank()
    assert not canvas.undo()             # nothing left


def test_drawing_round_trip(canvas):
    d = Drawing(width=560, height=400, pen_width=25.0, strokes=[[(10.0, 20.0), (300.0, 200.0)], [(5.0, 5.0)]])
    canvas.set_drawing(d)
    back = canvas.drawing()
    assert (back.width, back.height, back.pen_width) == (560, 400, 25.0)
    assert back.strokes == d.strokes
    assert canvas.pixels().shape == (400, 560)


def test_an_image_is_replaced_by_the_next_stroke_and_comes_back_with_undo(canvas):
    img = np.zeros((50, 80, 4), np.uint8)
    img[..., 3] = 255
    img[10:40, 30:50, :3] = 255
    canvas.set_image(img)
    assert canvas.image() is not None and not canvas.is_blank()
    canvas.add_stroke(VERTICAL)
    assert canvas.image() is None and canvas.strokes() == [VERTICAL]
    canvas.undo()
    assert canvas.image() is img and canvas.strokes() == []


def test_set_image_rejects_a_bad_array_without_changing_anything(canvas):
    canvas.add_stroke(VERTICAL)
    with pytest.raises(ValueError):
        canvas.set_image(np.zeros((3, 4, 5)))
    assert canvas.strokes() == [VERTICAL]


def test_mouse_draws_through_the_same_methods(canvas):
    """A 560x560 widget shows the 280x280 canvas at scale 2 (1 px margin)."""
    canvas.resize(562, 562)
    r = canvas.canvas_rect()
    assert r.width() == pytest.approx(560)
    _mouse(canvas, QEvent.MouseButtonPress, QPointF(r.x() + 100, r.y() + 40))
    _mouse(canvas, QEvent.MouseMove, QPointF(r.x() + 100, r.y() + 300), Qt.NoButton)
    _mouse(canvas, QEvent.MouseButtonRelease, QPointF(r.x() + 200, r.y() + 300), Qt.LeftButton, Qt.NoButton)
    assert canvas.strokes() == [[(50.0, 20.0), (50.0, 150.0), (100.0, 150.0)]]
    assert not canvas.is_drawing()
    # moving without a button pressed draws nothing
    _mouse(canvas, QEvent.MouseMove, QPointF(r.x() + 10, r.y() + 10), Qt.NoButton, Qt.NoButton)
    assert len(canvas.strokes()) == 1


def test_tablet_pen_draws(canvas):
    canvas.resize(282, 282)  # scale 1
    device = QPointingDevice.primaryPointingDevice()

    def tablet(kind, x, y, buttons):
        ev = QTabletEvent(kind, device, QPointF(x + 1, y + 1), QPointF(x + 1, y + 1), 0.5, 0.0, 0.0, 0.0, 0.0,
                          0.0, Qt.NoModifier, Qt.LeftButton, buttons)
        canvas.event(ev)
        assert ev.isAccepted()   # no synthesised mouse events doubling the stroke

    tablet(QEvent.TabletPress, 10, 10, Qt.LeftButton)
    tablet(QEvent.TabletMove, 30, 40, Qt.LeftButton)
    tablet(QEvent.TabletRelease, 30, 60, Qt.NoButton)
    assert canvas.strokes() == [[(10.0, 10.0), (30.0, 40.0), (30.0, 60.0)]]


def test_painted_ink_lands_where_the_strokes_are(canvas):
    canvas.resize(562, 562)
    canvas.add_stroke(VERTICAL)
    shot = canvas.grab().toImage()
    r = canvas.canvas_rect()
    on = shot.pixelColor(int(r.x() + 280), int(r.y() + 280))
    off = shot.pixelColor(int(r.x() + 100), int(r.y() + 280))
    assert on.lightness() > 240 and off.lightness() < 15


def test_dropping_a_file_emits_its_path(canvas, qtbot, tmp_path):
    f = tmp_path / "digit.png"
    f.write_bytes(b"not really a png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f))])
    ev = QDropEvent(QPointF(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(canvas.file_dropped) as blocker:
        canvas.dropEvent(ev)
    assert blocker.args == [str(f)]


def test_an_overlay_is_painted_but_never_part_of_the_input(canvas):
    canvas.add_stroke([(140, 60), (140, 220)])
    before = canvas.pixels()
    shot_before = canvas.grab().toImage()
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 200                 # red everywhere
    canvas.set_overlay(rgba)
    assert canvas.overlay() is not None and canvas.overlay().size().width() == 280
    np.testing.assert_array_equal(canvas.pixels(), before)
    shot = canvas.grab().toImage()
    rect = canvas.canvas_rect()
    x = int(rect.x() + 60 * rect.width() / 280)          # canvas (60, 140): far from the stroke at x = 140
    c = shot.pixelColor(x, int(rect.center().y()))
    assert c.red() > 150 and c.green() < 60 and shot_before != shot
    canvas.set_overlay(None)
    assert canvas.overlay() is None
