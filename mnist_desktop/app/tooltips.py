"""Tooltips that wrap: Qt shows a plain-text tooltip on one line however long it is (a 950-px strip across
the screen), but word-wraps rich text. ``wrap_tooltips(root)`` turns every long plain tooltip under
``root`` into escaped rich text, so each reads as a short paragraph (Qt wraps at about 80 average characters).

    wrap_tooltips(window)                 # once the widgets exist
    button.setToolTip(wrapped("..."))     # a tooltip set later
"""

from __future__ import annotations

import html

from PySide6.QtGui import Qt   # (mightBeRichText lives in QtGui)
from PySide6.QtWidgets import QWidget

WRAP_FROM = 60      # characters: shorter tooltips stay on one line as they are


def wrapped(text: str) -> str:
    """``text`` as rich text Qt word-wraps, if it is long plain text; otherwise unchanged."""
    if len(text) <= WRAP_FROM or Qt.mightBeRichText(text):
        return text
    return "<qt>" + html.escape(text, quote=False).replace("\n", "<br>") + "</qt>"


def wrap_tooltips(root: QWidget) -> None:
    """Wrap the tooltips of ``root`` and every widget under it (see ``wrapped``)."""
    for w in [root] + root.findChildren(QWidget):
        tip = w.toolTip()
        if tip:
            new = wrapped(tip)
            if new != tip:
                w.setToolTip(new)
