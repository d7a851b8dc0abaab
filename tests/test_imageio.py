"""app.imageio: strokes -> pixels, image files -> RGBA arrays, QImage -> NumPy, a file -> the network input."""

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPainter

from mnist_desktop.app.imageio import (ImageLoadError, ensure_gui_app, load_image, paint_strokes, preprocess_file,
                                       qimage_to_array, render_drawing)
from mnist_desktop.drawing import Drawing, DrawingError, write_drawing
from mnist_desktop.preprocess import center_of_mass


def array_to_qimage(a: np.ndarray) -> QImage:
    """(H, W) uint8 -> Grayscale8, (H, W, 4) uint8 -> RGBA8888 (copied, so the array may go)."""
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if a.ndim == 2 else QImage.Format.Format_RGBA8888
    return QImage(a.data, w, h, a.strides[0], fmt).copy()


# ---- rendering -------------------------------------------------------------------------------------------


def test_horizontal_stroke_lights_the_right_pixels(qapp):
    g = render_drawing(Drawing(60, 40, 6.0, [[(10.0, 20.0), (50.0, 20.0)]]))
    assert g.shape == (40, 60) and g.dtype == np.float32
    assert 0.0 <= g.min() and g.max() == 1.0
    rows = np.flatnonzero(g[:, 30] > 0.5)
    assert rows.tolist() == [17, 18, 19, 20, 21, 22]        # y 20 +- 3: pixels 17..22, pen width respected
    cols = np.flatnonzero(g[20] > 0.5)
    assert cols[0] == 7 and cols[-1] == 52                   # round caps reach 3 px past both ends
    assert g[:10].max() == 0 and g[30:].max() == 0


@pytest.mark.parametrize("pen", [2.0, 8.0, 20.0])
def test_pen_width_sets_the_stroke_thickness(qapp, pen):
    g = render_drawing(Drawing(100, 100, pen, [[(50.0, 10.0), (50.0, 90.0)]]))
    assert g[50].sum() == pytest.approx(pen, abs=0.05)       # ink across the stroke = its width


def test_single_point_stroke_is_a_round_dot(qapp):
    g = render_drawing(Drawing(40, 40, 10.0, [[(20.0, 20.0)], [(5.0, 5.0), (5.0, 5.0)]]))
    assert g.sum() == pytest.approx(2 * np.pi * 25, rel=0.04)  # two discs of radius 5 (Qt rounds coverage)
    assert center_of_mass(g[10:30, 10:30]) == pytest.approx((9.5, 9.5), abs=0.01)
    assert g[20, 20] == 1.0 and g[20, 26] == 0.0 and g[14, 14] == 0.0   # round, not square


def test_empty_drawing_is_black(qapp):
    g = render_drawing(Drawing(30, 20, 5.0, [[], []]))
    assert g.shape == (20, 30) and g.max() == 0.0


def test_paint_strokes_restores_the_painter(qapp):
    img = QImage(10, 10, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor(0, 0, 0))
    p = QPainter(img)
    p.setPen(QColor(255, 0, 0))
    paint_strokes(p, [[(1.0, 1.0), (8.0, 8.0)]], 2.0)
    assert p.pen().color() == QColor(255, 0, 0)
    p.end()


# ---- QImage -> NumPy -----------------------------------------------------------------------------------


def test_qimage_to_array_drops_row_padding(qapp):
    a = (np.arange(13 * 5, dtype=np.uint8) * 3).reshape(5, 13)  # 13 bytes per row: Qt pads rows to 16
    img = array_to_qimage(a)
    assert img.bytesPerLine() > 13
    np.testing.assert_array_equal(qimage_to_array(img), a)


def test_qimage_to_array_rgba_and_conversion(qapp):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    a[..., 3] = 255
    np.testing.assert_array_equal(qimage_to_array(array_to_qimage(a)), a)
    rgb32 = array_to_qimage(a).convertToFormat(QImage.Format.Format_RGB32)
    np.testing.assert_array_equal(qimage_to_array(rgb32), a)
    assert qimage_to_array(QImage()).shape == (0, 0, 4)


# ---- loading files -----------------------------------------------------------------------------------------


def test_load_png_with_transparency(qapp, tmp_path):
    a = np.zeros((12, 9, 4), np.uint8)
    a[2:10, 4, :] = (10, 20, 30, 255)
    a[2:10, 5, :] = (10, 20, 30, 100)
    path = tmp_path / "t.png"
    assert array_to_qimage(a).save(str(path))
    np.testing.assert_array_equal(load_image(path), a)


def test_load_jpeg_and_bmp(qapp, tmp_path):
    a = np.full((30, 20), 255, np.uint8)
    a[5:25, 8:12] = 0
    for name in ("d.jpg", "d.bmp"):
        assert array_to_qimage(a).save(str(tmp_path / name))
        px = load_image(tmp_path / name)
        assert px.shape == (30, 20, 4) and px.dtype == np.uint8
        assert px[15, 10, 0] < 40 and px[2, 2, 0] > 215


def test_load_image_shrinks_huge_images_when_asked(qapp, tmp_path):
    a = np.zeros((300, 1200), np.uint8)
    a[100:200, 500:520] = 255
    path = tmp_path / "wide.png"
    array_to_qimage(a).save(str(path))
    assert load_image(path).shape == (300, 1200, 4)
    small = load_image(path, max_side=600)
    assert small.shape == (150, 600, 4)
    assert small[75, 255, 0] == 255 and small[:, :240, 0].max() == 0   # the bar is where it was, halved


def test_load_errors_are_clear(qapp, tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "none.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)
    fake = tmp_path / "fake.png"
    fake.write_text("this is text, not a picture")
    with pytest.raises(ImageLoadError) as info:
        load_image(fake)
    assert str(fake) in str(info.value)
    truncated = tmp_path / "cut.png"
    assert array_to_qimage(np.zeros((40, 40), np.uint8)).save(str(truncated))
    truncated.write_bytes(truncated.read_bytes()[:30])
    with pytest.raises(ImageLoadError):
        load_image(truncated)


# ---- a file -> the network's input ------------------------------------------------------------------------------


def test_preprocess_file_drawing_and_image_agree(qapp, tmp_path):
    """The same digit as a drawing and as a dark-on-light PNG of that drawing gives the same 28x28."""
    d = Drawing(200, 200, 14.0, [[(60.0, 40.0), (140.0, 40.0), (80.0, 170.0)]])  # a 7
    write_drawing(tmp_path / "seven.json", d)
    from_drawing = preprocess_file(tmp_path / "seven.json")
    assert from_drawing is not None and not from_drawing.inverted
    dark_on_light = (255 - np.rint(render_drawing(d) * 255)).astype(np.uint8)
    assert array_to_qimage(dark_on_light).save(str(tmp_path / "seven.png"))
    from_png = preprocess_file(tmp_path / "seven.png")
    assert from_png.inverted
    np.testing.assert_allclose(from_png.image, from_drawing.image, atol=2e-3)
    # a heavily compressed JPEG: ringing and block noise neither grow the box nor change the picture much
    assert array_to_qimage(dark_on_light).save(str(tmp_path / "seven.jpg"), quality=30)
    from_jpg = preprocess_file(tmp_path / "seven.jpg")
    assert from_jpg.inverted
    assert np.abs(np.subtract(from_jpg.box, from_drawing.box)).max() <= 1
    assert np.abs(from_jpg.image - from_drawing.image).mean() < 0.02


def test_preprocess_file_blank_and_errors(qapp, tmp_path):
    write_drawing(tmp_path / "empty.json", Drawing(100, 100, 10.0, []))
    assert preprocess_file(tmp_path / "empty.json") is None
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DrawingError):
        preprocess_file(tmp_path / "bad.json")
    with pytest.raises(ImageLoadError):
        preprocess_file(tmp_path / "nothing.png")


def test_ensure_gui_app_returns_the_running_app(qapp):
    assert ensure_gui_app() is qapp
