"""Layouts for small windows: a row that becomes a column when the window is too narrow for it, and a page
that scrolls when the window is smaller than the page's least size (issue 16: every view usable at 640x480).

    box = QBoxLayout(QBoxLayout.LeftToRight)      # side by side when there is room ...
    Reflow(view, box)                             # ... one above the other when ``view`` is narrower
    content = scrolling_page(view)                # the view's widgets go into ``content``; the view scrolls
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QBoxLayout, QFrame, QLayout, QScrollArea, QSizePolicy, QVBoxLayout, QWidget


def row_width(box: QLayout) -> int:
    """The least width ``box``'s items need side by side (whichever way it is laid out now)."""
    items = [box.itemAt(i) for i in range(box.count())]
    widths = [it.minimumSize().width() for it in items if not (it.widget() and it.widget().isHidden())]
    m = box.contentsMargins()
    return sum(widths) + max(box.spacing(), 0) * max(len(widths) - 1, 0) + m.left() + m.right()


class Reflow(QObject):
    """Lays ``box`` out left to right while ``watched`` is at least as wide as the row needs (plus
    ``slack`` px: the margins around ``box`` inside ``watched``), top to bottom otherwise; ``changed(stacked)``
    is called after each switch."""

    def __init__(self, watched: QWidget, box: QBoxLayout, slack: int = 24, changed=None) -> None:
        super().__init__(watched)
        self.box, self.slack, self._watched, self._changed = box, slack, watched, changed
        watched.installEventFilter(self)

    def watch(self, other: QWidget, slack: int | None = None) -> None:
        """Follow ``other``'s width instead: for a hidden page of a tab or stacked widget, which is not
        resized while hidden but still counts in its stack's least size."""
        self._watched.removeEventFilter(self)
        self._watched = other
        if slack is not None:
            self.slack = slack
        other.installEventFilter(self)

    @property
    def stacked(self) -> bool:
        return self.box.direction() == QBoxLayout.TopToBottom

    def update_direction(self) -> None:
        wide = self._watched.width() >= row_width(self.box) + self.slack
        direction = QBoxLayout.LeftToRight if wide else QBoxLayout.TopToBottom
        if self.box.direction() != direction:
            self.box.setDirection(direction)
            node = self.box                 # the layouts above cache their sizes: forget them up to the widget
            while isinstance(node, QLayout):
                node.invalidate()
                node = node.parent()
            if isinstance(node, QWidget):
                node.updateGeometry()
            if self._changed is not None:
                self._changed(self.stacked)

    def eventFilter(self, obj, event) -> bool:
        if event.type() in (QEvent.Resize, QEvent.Show):
            self.update_direction()
        return False


class ScrollingPage(QScrollArea):
    """A scroll area that gives its page the viewport's size, or the page's least size where that is larger.
    (QScrollArea's own widgetResizable asks a page with word-wrapped labels or square tiles for its
    height-for-width, which makes a page taller than the window even when it would fit.)"""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.NoFrame)
        self.setWidget(QWidget())
        self.widget().installEventFilter(self)

    def fit(self) -> None:
        page = self.widget()
        least = page.minimumSizeHint().expandedTo(page.minimumSize())
        room = self.maximumViewportSize()          # without scroll bars
        if least.height() > room.height():          # a vertical bar takes width ...
            room.setWidth(room.width() - self.verticalScrollBar().sizeHint().width())
        if least.width() > room.width():            # ... a horizontal one height
            room.setHeight(room.height() - self.horizontalScrollBar().sizeHint().height())
        layout = page.layout()
        # scrolling anyway: word-wrapped labels (and square plots) get the height they need at this width
        if layout is not None and layout.hasHeightForWidth() and least.height() > self.maximumViewportSize().height():
            width = max(room.width(), least.width())
            least.setHeight(max(least.height(), layout.minimumHeightForWidth(width)))
            if least.height() > self.maximumViewportSize().height() and room.width() == self.maximumViewportSize().width():
                room.setWidth(room.width() - self.verticalScrollBar().sizeHint().width())
        size = room.expandedTo(least)
        if page.size() != size:
            page.resize(size)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.widget() and event.type() == QEvent.LayoutRequest:
            QTimer.singleShot(0, self, self.fit)    # once the page's layout has its new least size
        return super().eventFilter(obj, event)


def scrolling_page(view: QWidget) -> QWidget:
    """Give ``view`` one scroll area filling it and return the widget inside (lay the view out on that):
    at its least size or above nothing changes; smaller, scroll bars appear instead of clipped widgets."""
    area = ScrollingPage(view)
    layout = QVBoxLayout(view)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(area)
    view.scroll_area = area
    return area.widget()


def size_by_current_page(stack) -> None:
    """A QStackedWidget (or QTabWidget) that asks for the room of the page it shows, not of its largest page:
    hidden pages get an Ignored size policy (a tall hidden page would stretch a small window's scrolling)."""
    def follow(index: int) -> None:
        for i in range(stack.count()):
            page = stack.widget(i)
            policy = QSizePolicy.Preferred if i == index else QSizePolicy.Ignored
            page.setSizePolicy(policy, policy)
        stack.updateGeometry()

    stack.currentChanged.connect(follow)
    follow(stack.currentIndex())


def reflowing_page(view: QWidget, body: QBoxLayout, changed=None) -> QVBoxLayout:
    """``scrolling_page`` and ``Reflow(view, body, changed=...)`` (kept as ``view.reflow``) in one: returns the
    page's vertical layout, for the view to add ``body`` (and whatever goes above it) to."""
    view.reflow = Reflow(view, body, changed=changed)
    return QVBoxLayout(scrolling_page(view))
