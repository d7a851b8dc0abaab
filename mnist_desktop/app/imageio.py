"""Pixels in and out of Qt: load an image file, render a drawing, copy a QImage into NumPy.

This is the only place that turns strokes into pixels (``paint_strokes``), so the canvas in the window and
``mnist-desktop predict`` on a saved drawing see identical pixels. QImage only (no Pillow).

Headless use: in Qt 6 a QImage can be loaded (PNG, JPEG, BMP, ... through the image-format plugins) and
painted on with QPainter (lines, ellipses) without any application object, but anything that needs fonts,
a screen or the platform plugin does need a QGuiApplication. ``ensure_gui_app`` makes one when there is
none, choosing the "offscreen" platform when there is no display, so the command line works over ssh and
in CI; the command line calls it before loading or rendering.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, Qt
from PySide6.QtGui import (QColor, QGuiApplication, QImage, QImageIOHandler, QImageReader, QPainter, QPen,
                           QPolygonF)

from mnist_desktop.drawing import Drawing, read_drawing
from mnist_desktop.fileio import ReadError, check_regular_file
from mnist_desktop.preprocess import Preprocessed, ink_from_pixels, to_mnist

DRAWING_SUFFIXES = (".json",)
MAX_IMAGE_PIXELS = 50_000_000   # a 48-megapixel phone photo opens; a 7900x7900 PNG (2.6 GB decoded) does not
MAX_IMAGE_BYTES = 64 << 20
PREDICT_MAX_SIDE = 2048  # a photo is shrunk to this before the NumPy steps: the digit ends up 20 px tall anyway
POLYLINE_CHUNK = 64      # points per drawPolyline call (see paint_strokes)
_APP = None  # keeps the application object made by ensure_gui_app alive


class ImageLoadError(ValueError):
    """A file that is missing, unreadable or not an image Qt can decode; the message names the file."""


def ensure_gui_app() -> QGuiApplication:
    """The running application, or a new one. A new one is a QApplication when QtWidgets is available (so
    widgets made later in the same process still work), on the "offscreen" platform when neither DISPLAY
    nor WAYLAND_DISPLAY is set on Linux/BSD (QT_QPA_PLATFORM, if set, wins)."""
    global _APP
    app = QCoreApplication.instance()
    if app is not None:
        return app  # type: ignore[return-value]
    if (sys.platform not in ("darwin", "win32") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError:  # a Qt build without widgets: a GUI application is all painting needs
        QApplication = QGuiApplication  # noqa: N806
    _APP = QApplication([sys.argv[0] if sys.argv and sys.argv[0] else "mnist-desktop"])
    return _APP


# ---- strokes -> pixels -----------------------------------------------------------------------------------


def paint_strokes(painter: QPainter, strokes, pen_width: float) -> None:
    """Paint strokes ([[(x, y), ...], ...], canvas pixels, y down) white, anti-aliased, with round caps and
    joins; a stroke whose points all coincide paints a round dot of diameter ``pen_width``; empty strokes
    paint nothing. The painter's other state is restored afterwards.

    For the window's canvas to match ``render_drawing`` exactly, paint on a black Format_ARGB32_Premultiplied
    (or RGB32) image, whole strokes at a time, with this function."""
    painter.save()
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        white = QColor(255, 255, 255)
        pen = QPen(white, float(pen_width), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        r = float(pen_width) / 2.0
        for stroke in strokes:
            if len(stroke) == 0:
                continue
            x0, y0 = stroke[0]
            if all(x == x0 and y == y0 for x, y in stroke):
                # a zero-length line paints nothing in Qt; a dot is the pen's round cap on its own
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(white)
                painter.drawEllipse(QPointF(float(x0), float(y0)), r, r)
            else:
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                # Qt strokes one polyline in time that grows much faster than its length (100,000 points:
                # minutes); pieces of POLYLINE_CHUNK points sharing their end points paint the same shape
                # (round caps and joins) in linear time. Drawn strokes are far shorter and go in one piece.
                for start in range(0, max(1, len(stroke) - 1), POLYLINE_CHUNK):
                    piece = stroke[start:start + POLYLINE_CHUNK + 1]
                    painter.drawPolyline(QPolygonF([QPointF(float(x), float(y)) for x, y in piece]))
    finally:
        painter.restore()


def render_drawing(drawing: Drawing) -> np.ndarray:
    """Drawing -> (height, width) float32 in [0, 1], white ink on black."""
    img = QImage(int(drawing.width), int(drawing.height), QImage.Format.Format_ARGB32_Premultiplied)
    if img.isNull():
        raise MemoryError(f"cannot allocate a {drawing.width}x{drawing.height} image")
    img.fill(QColor(0, 0, 0))
    painter = QPainter(img)
    try:
        paint_strokes(painter, drawing.strokes, drawing.pen_width)
    finally:
        painter.end()
    gray = qimage_to_array(img.convertToFormat(QImage.Format.Format_Grayscale8))
    return gray.astype(np.float32) / np.float32(255)


# ---- QImage <-> NumPy ------------------------------------------------------------------------------------


def qimage_to_array(img: QImage) -> np.ndarray:
    """QImage -> a NumPy copy, row padding (bytesPerLine) removed.

    Format_Grayscale8 -> (H, W) uint8; Format_Grayscale16 -> (H, W) uint16; any other format is converted
    to Format_RGBA8888 (straight, not premultiplied alpha) -> (H, W, 4) uint8 in R, G, B, A order."""
    fmt = img.format()
    if fmt == QImage.Format.Format_Grayscale8:
        dtype, channels = np.uint8, 1
    elif fmt == QImage.Format.Format_Grayscale16:
        dtype, channels = np.uint16, 1
    else:
        if fmt != QImage.Format.Format_RGBA8888:
            img = img.convertToFormat(QImage.Format.Format_RGBA8888)
        dtype, channels = np.uint8, 4
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    if h == 0 or w == 0:
        return np.zeros((h, w) if channels == 1 else (h, w, channels), dtype)
    buf = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    row_bytes = w * channels * np.dtype(dtype).itemsize
    out = buf[:, :row_bytes].copy().view(dtype)  # copy: the QImage may go away, and drop the padding
    return out.reshape(h, w) if channels == 1 else out.reshape(h, w, channels)


def load_image(path, max_side: int | None = None) -> np.ndarray:
    """Image file (anything Qt reads: PNG, JPEG, BMP, GIF, WebP, ...) -> (H, W, 4) uint8 RGBA, with the
    EXIF orientation applied. ImageLoadError naming the file if it is missing or not an image.

    max_side: if given and the image is bigger, it is shrunk (aspect kept, Qt's area-averaging smooth
    scaling) so its long side is max_side: a 40-megapixel photo would otherwise need gigabytes of floats."""
    path = Path(path)
    try:  # before opening: a FIFO would block the decoder forever, /dev/zero never ends
        st = check_regular_file(path, "image")
    except ReadError as exc:
        raise ImageLoadError(str(exc)) from None
    if st.st_size > MAX_IMAGE_BYTES:
        raise ImageLoadError(f"{path}: {st.st_size:,} bytes is too big for an image of a digit "
                             f"(at most {MAX_IMAGE_BYTES >> 20} MB)")
    if not os.access(path, os.R_OK):
        raise ImageLoadError(f"{path}: cannot read the file (permission denied)")
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)  # phone photos store their rotation in EXIF
    size = reader.size()           # from the header, nothing decoded yet
    if size.isValid() and size.width() * size.height() > MAX_IMAGE_PIXELS:
        raise ImageLoadError(f"{path}: {size.width():,} x {size.height():,} pixels is too big to open "
                             f"(at most {MAX_IMAGE_PIXELS / 1e6:g} megapixels)")
    if max_side is not None and size.isValid() and max(size.width(), size.height()) > max_side:
        # decode straight to the smaller size where the format can (JPEG): a big photo is never whole in memory
        scaled = size.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio)
        if not reader.autoTransform() or reader.transformation() == QImageIOHandler.Transformation.TransformationNone:
            reader.setScaledSize(scaled)
    img = reader.read()
    if img.isNull():
        reason = reader.errorString() or "unknown error"
        if reader.error() == QImageReader.ImageReaderError.UnsupportedFormatError:
            reason = "not an image file Qt can read"
        raise ImageLoadError(f"{path}: {reason}")
    if max_side is not None and max(img.width(), img.height()) > max_side:
        img = img.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio,
                         Qt.TransformationMode.SmoothTransformation)
    return qimage_to_array(img.convertToFormat(QImage.Format.Format_RGBA8888))


# ---- a file -> what the network sees ------------------------------------------------------------------------


def is_drawing_file(path) -> bool:
    return Path(path).suffix.lower() in DRAWING_SUFFIXES


def preprocess_file(path) -> Preprocessed | None:
    """An image file or a drawing (.json) -> Preprocessed (None if it has no ink): the path
    ``mnist-desktop predict`` takes. Raises ImageLoadError or DrawingError (both ValueError)."""
    if is_drawing_file(path):
        return to_mnist(render_drawing(read_drawing(path)))
    gray, inverted = ink_from_pixels(load_image(path, max_side=PREDICT_MAX_SIDE))
    return to_mnist(gray, inverted=inverted)
