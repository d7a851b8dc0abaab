"""Renders resources/mnist-desktop.svg to the PNG sizes desktops ask for: resources/icons/mnist-desktop-<N>.png.

    QT_QPA_PLATFORM=offscreen python scripts/make_icons.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "mnist-desktop.svg"
OUT = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (fonts, image formats)
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"cannot read {SVG}", file=sys.stderr)
        return 1
    OUT.mkdir(exist_ok=True)
    for n in SIZES:
        image = QImage(n, n, QImage.Format_ARGB32_Premultiplied)
        image.fill(Qt.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = OUT / f"mnist-desktop-{n}.png"
        if not image.save(str(path), "PNG"):
            print(f"cannot write {path}", file=sys.stderr)
            return 1
    print(f"wrote {len(SIZES)} PNGs to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
