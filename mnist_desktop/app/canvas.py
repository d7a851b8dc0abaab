"""The drawing widget: strokes kept as vectors on a fixed logical canvas, shown scaled to fit.

Strokes live in canvas coordinates (280x280 by default, like the drawing files), so the same strokes
render the same pixels whatever the widget's size, and ``pixels()`` is exactly what the command line
renders from a saved drawing (both call ``imageio.render_drawing``).

Mouse and tablet handlers only translate positions and call the public stroke methods, so tests and
replays draw exactly as a hand does:

    canvas.add_stroke([(140, 60), (140, 220)])        # a whole stroke at once
    canvas.begin_stroke((100, 80)); canvas.extend_stroke([(120, 70), (160, 70)]); canvas.end_stroke()

An opened image is shown in the canvas area (``set_image``); the next stroke replaces it (the image and
strokes are never mixed into one input). Every change, including clearing and replacing the image, can
be undone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from mnist_desktop.app.imageio import paint_strokes, render_drawing
from mnist_desktop.app.style import OVERLAY_DIM
from mnist_desktop.drawing import Drawing
from mnist_desktop.preprocess import ink_from_pixels

Point = tuple[float, float]

CANVAS_SIZE = 280        # logical pixels, like the drawing files
DEFAULT_PEN_WIDTH = 18.0  # like the drawn-digit files
PEN_WIDTH_RANGE = (4.0, 40.0)
UNDO_LIMIT = 200
DISPLAY_LIMIT = 1600      # opened images are shown from a copy at most this large


def _on_paper(pixels: np.ndarray) -> np.ndarray:
    """An opened picture with transparency, put on its paper: transparency counts as paper, as for the
    network, so dark ink gets white paper under it and light ink black (drawn straight onto the black
    canvas, dark ink on clear paper was black on black). Other pictures are returned as they are."""
    a = np.asarray(pixels)
    if a.ndim != 3 or a.shape[2] != 4 or a.dtype != np.uint8 or not (a[..., 3] < 255).any():
        return a
    _, dark_ink = ink_from_pixels(a)
    paper = 255.0 if dark_ink else 0.0
    alpha = a[..., 3:4].astype(np.float32) / 255
    return (a[..., :3].astype(np.float32) * alpha + paper * (1 - alpha) + 0.5).astype(np.uint8)


def _qimage_from_pixels(pixels: np.ndarray) -> QImage:
    """(H, W) float in [0, 1] or uint8, or (H, W, 3|4) uint8 -> an independent QImage."""
    a = np.asarray(pixels)
    if a.ndim == 2:
        if a.dtype != np.uint8:
            a = (np.clip(a, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
        a = np.ascontiguousarray(a)
        h, w = a.shape
        return QImage(a.data, w, h, a.strides[0], QImage.Format_Grayscale8).copy()
    if a.ndim == 3 and a.shape[2] in (3, 4):
        if a.dtype != np.uint8:
            a = (np.clip(a, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
        a = np.ascontiguousarray(a)
        h, w, c = a.shape
        fmt = QImage.Format_RGBA8888 if c == 4 else QImage.Format_RGB888
        return QImage(a.data, w, h, a.strides[0], fmt).copy()
    raise ValueError(f"expected an (H, W) or (H, W, 3|4) image, got shape {a.shape}")


class DrawingCanvas(QWidget):
    """White ink on black, round anti-aliased pen; strokes as vectors in logical canvas coordinates.

    Signals:
        changed(): the input changed (every point of a stroke in progress, a finished stroke, clear,
            undo, pen width, a new image or drawing). Connect a coalescing slot: it fires per mouse move.
        stroke_finished(): the pen was lifted.
        file_dropped(str): a local file was dropped on the canvas (the Draw view opens it).
    """

    changed = Signal()
    stroke_finished = Signal()
    file_dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, size: int = CANVAS_SIZE,
                 pen_width: float = DEFAULT_PEN_WIDTH) -> None:
        super().__init__(parent)
        self._width = self._height = int(size)
        self._pen_width = float(pen_width)
        self._strokes: list[list[Point]] = []
        self._current: list[Point] | None = None   # the stroke being drawn, also in _strokes
        self._image: np.ndarray | None = None      # an opened image, shown instead of strokes
        self._qimage: QImage | None = None
        self._undo: list[tuple[list[list[Point]], np.ndarray | None, QImage | None]] = []
        self._drag_hover = False
        self._overlay: QImage | None = None        # e.g. saliency, over the content, not part of the input
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setCursor(Qt.CrossCursor)
        self.setAcceptDrops(True)
        self.setAttribute(Qt.WA_OpaquePaintEvent)  # paintEvent fills every pixel
        self.setToolTip("Draw a digit with the mouse or a pen. Drop an image or a drawing (.json) here to open it.")

    # ---- the drawing ------------------------------------------------------------------------

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) in logical pixels."""
        return self._width, self._height

    @property
    def pen_width(self) -> float:
        return self._pen_width

    def set_pen_width(self, width: float) -> None:
        """Pen width in logical pixels for the whole drawing (the file format has one width)."""
        width = float(np.clip(width, *PEN_WIDTH_RANGE))
        if width == self._pen_width:
            return
        self._pen_width = width
        self.update()
        if self._strokes:
            self.changed.emit()

    def strokes(self) -> list[list[Point]]:
        """A copy of the strokes, the one in progress included."""
        return [list(s) for s in self._strokes]

    def is_blank(self) -> bool:
        """No strokes and no image."""
        return not self._strokes and self._image is None

    def is_drawing(self) -> bool:
        """A stroke is in progress (pen down)."""
        return self._current is not None

    def image(self) -> np.ndarray | None:
        """The opened image as given to ``set_image``, or None when the canvas holds strokes."""
        return self._image

    def drawing(self) -> Drawing:
        """The strokes as a Drawing (a copy; the stroke in progress included)."""
        return Drawing(width=self._width, height=self._height, pen_width=self._pen_width,
                       strokes=self.strokes())

    def pixels(self) -> np.ndarray:
        """(H, W) float32 in [0, 1], white ink on black: ``render_drawing(self.drawing())``, the same
        pixels the command line gets from the saved drawing."""
        return render_drawing(self.drawing())

    # ---- editing (mouse, tablet, tests and replays all come through here) --------------------

    def begin_stroke(self, point: Point) -> None:
        """Pen down at ``point`` (canvas coordinates). Replaces an opened image."""
        if self._current is not None:
            self.end_stroke()
        self._push_undo()
        if self._image is not None:
            self._image, self._qimage = None, None
        self._current = [(float(point[0]), float(point[1]))]
        self._strokes.append(self._current)
        self.update()
        self.changed.emit()

    def extend_stroke(self, points) -> None:
        """Add points to the stroke in progress (starting one at the first point if none is)."""
        pts = [(float(x), float(y)) for x, y in points]
        if not pts:
            return
        if self._current is None:
            self.begin_stroke(pts[0])
            pts = pts[1:]
        start = len(self._current) - 1
        for p in pts:
            if p != self._current[-1]:  # a pen resting in place adds nothing
                self._current.append(p)
        if len(self._current) - 1 > start:
            self._update_around(self._current[start:])
            self.changed.emit()

    def end_stroke(self) -> None:
        """Pen up."""
        if self._current is None:
            return
        self._current = None
        self.stroke_finished.emit()

    def add_stroke(self, points) -> None:
        """A whole stroke: begin at the first point, extend point by point, end."""
        pts = [(float(x), float(y)) for x, y in points]
        if not pts:
            return
        self.begin_stroke(pts[0])
        self.extend_stroke(pts[1:])
        self.end_stroke()

    def clear(self) -> None:
        """Remove strokes and image (undoable)."""
        if self.is_blank():
            return
        self.end_stroke()
        self._push_undo()
        self._strokes, self._image, self._qimage = [], None, None
        self.update()
        self.changed.emit()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> bool:
        """Undo the last change (a stroke, clear, opened image or drawing); False if nothing to undo."""
        self.end_stroke()
        if not self._undo:
            return False
        self._strokes, self._image, self._qimage = self._undo.pop()
        self.update()
        self.changed.emit()
        return True

    def set_drawing(self, drawing: Drawing) -> None:
        """Replace the canvas content with ``drawing`` (its size and pen width too); undoable."""
        self.end_stroke()
        self._push_undo()
        self._width, self._height = int(drawing.width), int(drawing.height)
        self._pen_width = float(drawing.pen_width)
        self._strokes = [[(float(x), float(y)) for x, y in s] for s in drawing.strokes if len(s)]
        self._image, self._qimage = None, None
        self.update()
        self.changed.emit()

    def set_image(self, pixels: np.ndarray) -> None:
        """Show an opened image ((H, W) or (H, W, 3|4), as from ``imageio.load_image``) instead of
        strokes; undoable. The next stroke replaces it."""
        qimage = _qimage_from_pixels(_on_paper(pixels))  # ValueError before anything changes
        if max(qimage.width(), qimage.height()) > DISPLAY_LIMIT:  # a photo: scale once, not per paint
            qimage = qimage.scaled(DISPLAY_LIMIT, DISPLAY_LIMIT, Qt.KeepAspectRatio, Qt.SmoothTransformation)
        self.end_stroke()
        self._push_undo()
        self._strokes = []
        self._image, self._qimage = np.asarray(pixels), qimage
        self.update()
        self.changed.emit()

    # ---- overlay (display only) --------------------------------------------------------------------

    def set_overlay(self, rgba: np.ndarray | None) -> None:
        """Show (H', W', 4) uint8 RGBA over the content (the strokes' canvas or the opened image), stretched
        to cover it, or nothing (None). Only painted: ``pixels()`` and the input never include it."""
        if rgba is None and self._overlay is None:
            return          # every prediction without the overlay says None: no full repaint for it
        self._overlay = None if rgba is None else _qimage_from_pixels(rgba)
        self.update()

    def overlay(self) -> QImage | None:
        """The overlay shown, or None."""
        return self._overlay

    def _push_undo(self) -> None:
        # finished strokes are never mutated, so a shallow copy of the list is a snapshot
        self._undo.append((list(self._strokes), self._image, self._qimage))
        del self._undo[:-UNDO_LIMIT]

    # ---- geometry -------------------------------------------------------------------------------

    def canvas_rect(self) -> QRectF:
        """Where the logical canvas sits in the widget: the largest centred rect with its aspect."""
        m = 1.0
        w, h = max(self.width() - 2 * m, 1.0), max(self.height() - 2 * m, 1.0)
        s = min(w / self._width, h / self._height)
        cw, ch = self._width * s, self._height * s
        return QRectF(m + (w - cw) / 2, m + (h - ch) / 2, cw, ch)

    def _content_rect(self, r: QRectF) -> QRectF:
        """Where the content is painted inside the canvas rect ``r``: all of it for strokes, the opened
        image's aspect-kept, centred rect for an image."""
        if self._qimage is None:
            return r
        iw, ih = self._qimage.width(), self._qimage.height()
        s = min(r.width() / iw, r.height() / ih)
        return QRectF(r.x() + (r.width() - iw * s) / 2, r.y() + (r.height() - ih * s) / 2, iw * s, ih * s)

    def _update_around(self, points: list[Point]) -> None:
        """Repaint only where new segments go (a long stroke stays cheap to extend)."""
        if self._image is not None:
            self.update()
            return
        r = self.canvas_rect()
        s = r.width() / self._width
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        pad = self._pen_width / 2 + 2 / s
        self.update(QRectF(r.x() + (min(xs) - pad) * s, r.y() + (min(ys) - pad) * s,
                           (max(xs) - min(xs) + 2 * pad) * s, (max(ys) - min(ys) + 2 * pad) * s)
                    .toAlignedRect().adjusted(-1, -1, 1, 1))

    def to_canvas(self, pos: QPointF) -> Point:
        """Widget coordinates -> logical canvas coordinates."""
        r = self.canvas_rect()
        s = r.width() / self._width
        return ((pos.x() - r.x()) / s, (pos.y() - r.y()) / s)

    def sizeHint(self) -> QSize:
        return QSize(420, 420)

    # ---- painting -------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().color(QPalette.Window))
        r = self.canvas_rect()
        p.fillRect(r, QColor(0, 0, 0))
        p.save()
        p.setClipRect(r)
        target = self._content_rect(r)
        if self._qimage is not None:
            p.setRenderHint(QPainter.SmoothPixmapTransform, True)
            p.drawImage(target, self._qimage)
        else:
            p.save()
            p.translate(r.topLeft())
            s = r.width() / self._width
            p.scale(s, s)
            paint_strokes(p, self._strokes, self._pen_width)
            p.restore()
        if self._overlay is not None:
            p.fillRect(target, OVERLAY_DIM)   # dim the ink, so the overlay's colours show on it too
            p.setRenderHint(QPainter.SmoothPixmapTransform, True)
            p.drawImage(target, self._overlay)
        p.restore()
        if self.is_blank():
            p.setPen(QColor(150, 150, 150))
            f = QFont(self.font())
            f.setPointSizeF(max(10.0, r.height() / 22))
            p.setFont(f)
            p.drawText(r, Qt.AlignCenter, "Draw a digit here\n(or drop an image)")
        border = QColor(90, 160, 255) if self._drag_hover else QColor(70, 70, 70)
        p.setPen(QPen(border, 3 if self._drag_hover else 1))
        p.setBrush(Qt.NoBrush)
        p.drawRect(r.adjusted(-0.5, -0.5, 0.5, 0.5))
        p.end()

    # ---- input: mouse, tablet, drops ---------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self.begin_stroke(self.to_canvas(event.position()))
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._current is not None and event.buttons() & Qt.LeftButton:
            self.extend_stroke([self.to_canvas(event.position())])
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self._current is not None:
            self.extend_stroke([self.to_canvas(event.position())])
            self.end_stroke()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event) -> None:
        # Accepting stops Qt from synthesising mouse events for the same pen motion.
        kind = event.type()
        pos = self.to_canvas(event.position())
        if kind == event.Type.TabletPress:
            self.begin_stroke(pos)
        elif kind == event.Type.TabletMove:
            if self._current is not None:
                self.extend_stroke([pos])
        elif kind == event.Type.TabletRelease:
            if self._current is not None:
                self.extend_stroke([pos])
                self.end_stroke()
        event.accept()

    @staticmethod
    def _dropped_file(mime) -> str | None:
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and Path(url.toLocalFile()).is_file():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:
        if self._dropped_file(event.mimeData()) is not None:
            self._drag_hover = True
            self.update()
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self._drag_hover = False
        self.update()

    def dropEvent(self, event) -> None:
        self._drag_hover = False
        self.update()
        path = self._dropped_file(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.file_dropped.emit(path)
