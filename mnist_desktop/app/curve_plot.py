"""The learning-curve picture, painted with QPainter: the same drawing on screen (``CurvePlot``, the Train
view's learning-curve mode) and in a PNG (``render_png``, which ``mnist-desktop learning-curve --out``
calls; it works without a display on the offscreen platform).

    plot = CurvePlot(); plot.set_result(result)       # a learning_curve.CurveResult; repaints
    render_png(result, "curve.png", 900, 560)          # atomic write

Accuracy (%) against training images on a log axis: one colour per network, test accuracy as a solid line
with dots, training accuracy dashed; a legend names the networks.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from mnist_desktop.app.style import PLOT_FOREGROUND, SERIES_COLORS as PALETTE  # noqa: N811 (its old name)
from mnist_desktop.learning_curve import CurveResult


def preset_color(result: CurveResult, preset: str) -> QColor:
    i = result.presets.index(preset) if preset in result.presets else 0
    return QColor(PALETTE[i % len(PALETTE)])


def size_label(n: int) -> str:
    """100 -> '100', 1000 -> '1k', 60000 -> '60k', 2500 -> '2.5k'."""
    if n >= 1000:
        k = n / 1000
        return f"{k:g}k"
    return str(n)


def _y_range(result: CurveResult) -> tuple[float, float, float]:
    """(lo, hi, step) in accuracy units: from a round number below the lowest point to 100%."""
    values = [v for p in result.points for v in (p.test_acc, p.train_acc)]
    low = min(values) if values else 0.8
    lo = max(0.0, math.floor(low * 10 - 1e-9) / 10) if low < 0.9 else max(0.0, math.floor(low * 20) / 20)
    lo = min(lo, 0.8)
    step = 0.1 if 1.0 - lo > 0.3 else 0.05 if 1.0 - lo > 0.1 else 0.02
    return lo, 1.0, step


def paint_curve(painter: QPainter, width: int, height: int, result: CurveResult | None,
                running: tuple[str, int] | None = None) -> None:
    """Paint the whole picture into (0, 0, width, height). ``running``: (preset, size) being trained now,
    marked with a hollow dot on its network's colour at that size."""
    painter.save()
    painter.setRenderHint(QPainter.Antialiasing, True)
    painter.fillRect(QRectF(0, 0, width, height), QColor("white"))
    font = QFont(painter.font())
    font.setPointSizeF(9.5)
    painter.setFont(font)
    fm = painter.fontMetrics()
    line_h = fm.height()
    if result is None or not result.sizes:
        painter.setPen(QColor("#555"))
        painter.drawText(QRectF(0, 0, width, height), Qt.AlignCenter,
                         "Choose networks and sizes, then Start: a point appears as each size finishes.")
        painter.restore()
        return
    left, right, top, bottom = fm.horizontalAdvance("100%") + 34, 16, line_h * 2 + 8, line_h * 2 + 14
    plot = QRectF(left, top, max(10, width - left - right), max(10, height - top - bottom))
    sizes = result.sizes
    x_lo, x_hi = math.log10(min(sizes) / 1.5), math.log10(max(sizes) * 1.5)
    y_lo, y_hi, y_step = _y_range(result)

    def px(n: float) -> float:
        return plot.left() + (math.log10(n) - x_lo) / (x_hi - x_lo) * plot.width()

    def py(a: float) -> float:
        return plot.bottom() - (a - y_lo) / (y_hi - y_lo) * plot.height()

    _paint_title(painter, width, line_h, font, result)
    _paint_axes(painter, plot, left, line_h, result.sizes, _y_ticks(y_lo, y_hi, y_step), px, py)
    _paint_curves(painter, plot, result, running, px, py)
    _paint_legend(painter, plot, fm, line_h, result)
    painter.restore()


def _paint_title(painter: QPainter, width: int, line_h: int, font: QFont, result: CurveResult) -> None:
    # title
    painter.setPen(QColor("#222"))
    bold = QFont(font)
    bold.setBold(True)
    painter.setFont(bold)
    title = "Accuracy against training images"
    painter.drawText(QRectF(0, 4, width, line_h), Qt.AlignHCenter, title)
    painter.setFont(font)
    sub = f"solid: test ({result.test_images:,} images)   dashed: training   {result.images:,} training images seen per point"
    painter.setPen(QColor("#555"))
    painter.drawText(QRectF(0, 4 + line_h, width, line_h), Qt.AlignHCenter, sub)


def _y_ticks(y_lo: float, y_hi: float, y_step: float) -> list[float]:
    ticks_y = []
    a = y_lo
    while a <= y_hi + 1e-9:
        ticks_y.append(a)
        a = round(a + y_step, 6)
    return ticks_y


def _paint_axes(painter: QPainter, plot: QRectF, left: float, line_h: int, sizes, ticks_y: list[float],
                px, py) -> None:
    # grid and axes
    grid = QPen(QColor("#e3e3e3"), 1)
    painter.setPen(grid)
    for a in ticks_y:
        painter.setPen(grid)
        painter.drawLine(QPointF(plot.left(), py(a)), QPointF(plot.right(), py(a)))
        painter.setPen(QColor(PLOT_FOREGROUND))
        painter.drawText(QRectF(0, py(a) - line_h / 2, left - 6, line_h), Qt.AlignRight | Qt.AlignVCenter,
                         f"{a * 100:.0f}%")
    for n in sizes:
        painter.setPen(grid)
        painter.drawLine(QPointF(px(n), plot.top()), QPointF(px(n), plot.bottom()))
        painter.setPen(QColor(PLOT_FOREGROUND))
        painter.drawText(QRectF(px(n) - 40, plot.bottom() + 3, 80, line_h), Qt.AlignHCenter, size_label(n))
    painter.setPen(QPen(QColor("#666"), 1))
    painter.drawRect(plot)
    painter.setPen(QColor(PLOT_FOREGROUND))
    painter.drawText(QRectF(plot.left(), plot.bottom() + line_h + 4, plot.width(), line_h), Qt.AlignHCenter,
                     "training images (balanced per digit, log scale)")
    painter.save()
    painter.translate(12, plot.center().y())
    painter.rotate(-90)
    painter.drawText(QRectF(-plot.height() / 2, -line_h / 2 - 2, plot.height(), line_h), Qt.AlignHCenter, "accuracy")
    painter.restore()


def _paint_curves(painter: QPainter, plot: QRectF, result: CurveResult, running, px, py) -> None:
    # curves
    painter.setClipRect(plot.adjusted(-6, -6, 6, 6))
    for preset in result.presets:
        pts = result.for_preset(preset)
        color = preset_color(result, preset)
        for attr, style, width_ in (("train_acc", Qt.DashLine, 1.4), ("test_acc", Qt.SolidLine, 2.2)):
            if len(pts) > 1:
                path = QPainterPath(QPointF(px(pts[0].size), py(getattr(pts[0], attr))))
                for p in pts[1:]:
                    path.lineTo(QPointF(px(p.size), py(getattr(p, attr))))
                painter.setPen(QPen(color, width_, style))
                painter.setBrush(Qt.NoBrush)
                painter.drawPath(path)
            painter.setPen(QPen(color, 1.2))
            painter.setBrush(color if attr == "test_acc" else QColor("white"))
            r = 3.6 if attr == "test_acc" else 2.6
            for p in pts:
                painter.drawEllipse(QPointF(px(p.size), py(getattr(p, attr))), r, r)
    if running is not None and running[0] in result.presets:
        color = preset_color(result, running[0])
        painter.setPen(QPen(color, 1.6, Qt.DotLine))
        painter.setBrush(Qt.NoBrush)
        painter.drawLine(QPointF(px(running[1]), plot.top()), QPointF(px(running[1]), plot.bottom()))
    painter.setClipping(False)


def _paint_legend(painter: QPainter, plot: QRectF, fm, line_h: int, result: CurveResult) -> None:
    # legend, bottom right inside the plot (where curves that rise with data leave room)
    names = [(p, f"{p}  {result.for_preset(p)[-1].test_acc * 100:.2f}%" if result.for_preset(p) else p)
             for p in result.presets]
    w_leg = max(fm.horizontalAdvance(t) for _, t in names) + 40
    h_leg = line_h * len(names) + 10
    box = QRectF(plot.right() - w_leg - 8, plot.bottom() - h_leg - 8, w_leg, h_leg)
    painter.setPen(QPen(QColor("#bbb"), 1))
    painter.setBrush(QColor(255, 255, 255, 235))
    painter.drawRect(box)
    for i, (preset, text) in enumerate(names):
        y = box.top() + 5 + i * line_h + line_h / 2
        color = preset_color(result, preset)
        painter.setPen(QPen(color, 2.2))
        painter.drawLine(QPointF(box.left() + 8, y), QPointF(box.left() + 28, y))
        painter.setBrush(color)
        painter.drawEllipse(QPointF(box.left() + 18, y), 3.2, 3.2)
        painter.setPen(QColor("#222"))
        painter.drawText(QRectF(box.left() + 34, y - line_h / 2, w_leg - 36, line_h), Qt.AlignVCenter, text)


def render_image(result: CurveResult, width: int = 900, height: int = 560) -> QImage:
    image = QImage(width, height, QImage.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        paint_curve(painter, width, height, result)
    finally:
        painter.end()
    return image


def render_png(result: CurveResult, path, width: int = 900, height: int = 560) -> None:
    """Write the picture of ``result`` to ``path`` (PNG, atomic). Makes an offscreen application when none
    is running (the command line)."""
    from mnist_desktop.app.imageio import ensure_gui_app
    from mnist_desktop.engine.serialize import atomic_write
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    ensure_gui_app()
    image = render_image(result, width, height)
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    if not image.save(buf, "PNG"):
        raise OSError(f"could not encode the PNG for {path}")
    buf.close()
    payload = bytes(data.data())
    atomic_write(path, lambda f: f.write(payload))


class CurvePlot(QWidget):
    """The learning-curve picture as a widget: ``set_result(result, running)`` repaints it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.result: CurveResult | None = None
        self.running: tuple[str, int] | None = None
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(360, 240)

    def sizeHint(self) -> QSize:
        return QSize(700, 440)

    def set_result(self, result: CurveResult | None, running: tuple[str, int] | None = None) -> None:
        self.result, self.running = result, running
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt)
        painter = QPainter(self)
        try:
            paint_curve(painter, self.width(), self.height(), self.result, self.running)
        finally:
            painter.end()
