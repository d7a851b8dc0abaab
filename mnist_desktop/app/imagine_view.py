"""The Imagine view: what does the network think a 3 looks like? And a look at its first layer.

Two tabs:

    Imagine       (this module, widgets and words in imagine_widgets.py) a digit (0-9 buttons) or all ten; back-projection or activation maximisation
                  (``explain``); blue-white-red evidence map or white-on-black pixels, a colour bar, one
                  line saying what the colours mean; every imagined image fed back through the network
                  and its verdict shown beside it.
    First layer   (imagine_first_layer.py) the first layer's weights as tiles: an MLP's hidden units as 28x28 images, a CNN's
                  convolution filters and, for the current drawing (``image_source``), what each filter
                  finds in it.

Work and threads. Back-projecting all ten digits takes 1-20 ms, so it runs on the UI thread. Activation
maximisation takes 0.15 s (MLP) to 2-3 s (CNN) for ten, so it is a job on the view's ``JobRunner``
(app/jobs.py) working on ``net.copy()``
(explain's functions use the layers' forward/backward caches), two digits per batch (the rest at once
when a batch is quick): tiles fill in as batches finish, a progress bar counts them, and a new model
cancels the job at the next batch.
Results are kept per model and method, so switching back and forth costs nothing. Nothing is computed
while the view is hidden; showing it catches up.

    view = ImagineView(state, image_source=lambda: drawing_28x28_or_None)
    view.set_digit(3) / view.set_digit(None)      # one digit, or all ten
    view.set_method("maximize")                    # or "backproject"
    view.imagined(3)                               # the explain.Imagined shown for 3, or None
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QBoxLayout, QGroupBox, QHBoxLayout, QLabel, QSizePolicy, QStackedWidget, QTabWidget, QVBoxLayout,
                               QWidget)

from mnist_desktop import explain, heatmap
from mnist_desktop.app.imagine_first_layer import FirstLayerPanel
from mnist_desktop.app.imagine_widgets import (ColorBar, ImageBox, ImagineControls, TileGrid,  # noqa: F401 (tests)
                                               explanation, verdict_html, verdict_tooltip)
from mnist_desktop.app.jobs import Job, JobView
from mnist_desktop.app.reflow import Reflow, scrolling_page, size_by_current_page
from mnist_desktop.app.state import AppState, LoadedModel
from mnist_desktop.app.style import MUTED_TEXT, WRONG_COLOR, scaled_font
from mnist_desktop.app.widgets import ProbabilityChart, no_model_hint
from mnist_desktop.engine.network import Network

ALL = None                       # set_digit(ALL): the ten digits at once
CHUNK = 2                        # digits per maximisation batch: progress and cancel points (CNN: no slower than 10)
QUICK_BATCH_S = 0.15             # a first batch quicker than this: the rest in one batch (MLPs: 0.14 s for ten)


# ---- the work (on a JobRunner's thread) ----------------------------------------------------------------


def _maximize_work(net: Network, method: str, digits: list[int], options: dict):
    """Maximise ``digits`` CHUNK at a time (the rest at once if a batch was quick) on ``net`` (a copy the
    job owns), feed each image back, ``job.report(list[explain.Imagined])`` per batch; stops between
    batches when cancelled."""
    def work(job: Job) -> None:
        start, size = 0, CHUNK
        while start < len(digits) and not job.cancelled:
            chunk = digits[start:start + size]
            start += len(chunk)
            t0 = time.perf_counter()
            images = explain.maximize_batch(net, chunk, **options)
            if time.perf_counter() - t0 < QUICK_BATCH_S:
                size = len(digits)          # quick (an MLP): the rest in one batch, faster than in pairs
            items = []
            for d, image in zip(chunk, images):
                probs = explain.feed_back(net, image)
                items.append(explain.Imagined(int(d), method, image, probs, int(np.argmax(probs))))
            job.report(items)
    return work


# ---- the view -------------------------------------------------------------------------------------------------


class ImagineView(JobView):
    """What the network imagines for each digit, and its first layer. See the module docstring.

    ``image_source``: returns the current drawing as the network sees it, (28, 28) in [0, 1], or None.
    ``maximize_options``: keyword arguments for ``explain.maximize_batch`` (tests use fewer steps).

    Signals:
        updated(): after the pictures changed (a result arrived, the digit, method or model changed).
        busy_changed(bool): a maximisation job started (True) or ended (False).
    """

    updated = Signal()

    def __init__(self, state: AppState, image_source: Callable[[], np.ndarray | None] | None = None,
                 maximize_options: dict | None = None, parent: QWidget | None = None) -> None:
        super().__init__("imagine", parent)
        self.state = state
        self.image_source = image_source
        self.maximize_options = dict(maximize_options or {})
        self._model: LoadedModel | None = None
        self._results: dict[str, dict[int, explain.Imagined]] = {}
        self._error: str | None = None
        self._digit: int | None = ALL
        self._method = "backproject"
        self._first_done = False
        self._done = 0                   # digits the running maximisation has delivered

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_imagine_tab(), "Imagine a digit")
        self.first_panel = FirstLayerPanel()
        self.tabs.addTab(self.first_panel, "First layer")

        self.hint = no_model_hint()                   # no model: a hint instead of everything
        self.outer = QStackedWidget()
        self.outer.addWidget(self.hint)
        self.outer.addWidget(self.tabs)
        layout = QVBoxLayout(scrolling_page(self))   # a small window scrolls the view
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addWidget(self.outer)

        self.all_button.setChecked(True)
        self.method_buttons[self._method].setChecked(True)
        self._digit_group.idClicked.connect(self._on_digit_group_clicked)
        self._method_group.idClicked.connect(self._on_method_group_clicked)
        self.tabs.currentChanged.connect(self._on_tabs_changed)
        self.state.model_changed.connect(self._on_state_model_changed)
        self._on_state_model_changed(self.state.model)

    def _build_imagine_tab(self) -> QWidget:
        """Controls; a page with the ten tiles and a page with one digit and its verdict; the explanation."""
        self.controls = c = ImagineControls()
        c.reflow.watch(self, slack=40)    # digits over methods when the view is narrow
        self.digit_buttons, self.all_button, self.method_buttons = c.digit_buttons, c.all_button, c.method_buttons
        self.progress, self._digit_group, self._method_group = c.progress, c.digit_group, c.method_group
        self.pages = QStackedWidget()
        self.pages.addWidget(self._build_grid_page())
        self.pages.addWidget(self._build_single_page())
        size_by_current_page(self.pages)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.RichText)
        self.explanation.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.explanation.setFont(scaled_font(self.font(), 1.05))
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {WRONG_COLOR};")
        self.error_label.hide()
        imagine_tab = QWidget()
        il = QVBoxLayout(imagine_tab)
        il.addWidget(self.controls)
        il.addWidget(self.pages, 1)
        il.addWidget(self.error_label)
        il.addWidget(self.explanation)
        return imagine_tab

    def _build_grid_page(self) -> QWidget:
        """All ten: the tiles in two rows of five, the colour bar beside them."""
        self.tiles: list[ImageBox] = []
        for d in range(10):
            t = ImageBox(min_size=30)
            t.setToolTip(f"Click to look at the {d} on its own")
            t.clicked.connect(lambda d=d: self.set_digit(d))
            self.tiles.append(t)
        self.grid = TileGrid(self.tiles)
        self.grid_bar = ColorBar()
        grid_page = QWidget()
        gl = QHBoxLayout(grid_page)
        gl.setContentsMargins(0, 0, 0, 0)
        gl.addWidget(self.grid, 1)
        gl.addWidget(self.grid_bar, 0, Qt.AlignVCenter)
        return grid_page

    def _build_single_page(self) -> QWidget:
        """One digit, big, with what the network makes of it."""
        self.big = ImageBox(min_size=200)
        self.single_bar = ColorBar()
        self.fed_box = ImageBox(min_size=90)
        self.fed_box.setMaximumWidth(230)
        self.fed_box.caption.setStyleSheet(f"color: {MUTED_TEXT};")
        self.chart = ProbabilityChart()
        fed_group = QGroupBox("Fed back through the network")
        fl = QVBoxLayout(fed_group)
        fed_row = QHBoxLayout()
        fed_row.addStretch(1)
        fed_row.addWidget(self.fed_box, 2)
        fed_row.addStretch(1)
        fl.addLayout(fed_row, 2)
        fl.addWidget(self.chart, 3)
        single_page = QWidget()
        sl = QBoxLayout(QBoxLayout.LeftToRight, single_page)   # the feed-back under the digit when narrow
        self.single_reflow = Reflow(self, sl, slack=40)          # follows the view: the page may be hidden
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.big, 5)
        sl.addWidget(self.single_bar, 0, Qt.AlignVCenter)
        sl.addSpacing(8)
        sl.addWidget(fed_group, 4)
        return single_page

    # ---- public -------------------------------------------------------------------------------------------

    @property
    def digit(self) -> int | None:
        """The digit shown on its own, or None (ALL) when the ten are shown."""
        return self._digit

    @property
    def method(self) -> str:
        return self._method

    def set_digit(self, digit: int | None) -> None:
        """Show ``digit`` (0-9) on its own, or all ten (None)."""
        if digit is not None and not 0 <= int(digit) <= 9:
            raise ValueError(f"digit must be 0-9 or None (all ten), got {digit}")
        self._digit = None if digit is None else int(digit)
        button = self.all_button if digit is None else self.digit_buttons[self._digit]
        if not button.isChecked():
            button.setChecked(True)
        self.refresh()

    def set_method(self, method: str) -> None:
        """'backproject' or 'maximize' (explain.METHODS)."""
        if method not in explain.METHODS:
            raise ValueError(f"unknown method {method!r} (expected one of {', '.join(explain.METHODS)})")
        self._method = method
        if not self.method_buttons[method].isChecked():
            self.method_buttons[method].setChecked(True)
        self.refresh()

    def imagined(self, digit: int) -> explain.Imagined | None:
        """The result shown (or ready to show) for ``digit`` with the current method; None until computed."""
        return self._results.get(self._method, {}).get(digit)

    def shown_digits(self) -> list[int]:
        return list(range(10)) if self._digit is None else [self._digit]

    def refresh(self) -> None:
        """Bring the pictures up to date now (computing what is missing; maximisation in the background).
        While the view is hidden only the state is recorded; showing it calls this."""
        if not self.isVisible():
            return
        model = self._model
        if model is None:
            self.outer.setCurrentWidget(self.hint)
            self.updated.emit()
            return
        self.outer.setCurrentWidget(self.tabs)
        if self.tabs.currentIndex() == 0:
            self._compute()
            self._show_imagined()
        else:
            self._show_first_layer()
        self.updated.emit()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel a running maximisation and wait (at most ``timeout`` seconds) for its thread (closing,
        application quit)."""
        super().shutdown(timeout)
        self.progress.setVisible(False)

    # ---- events ---------------------------------------------------------------------------------------------

    def _on_state_model_changed(self, model: LoadedModel | None) -> None:
        self.jobs.cancel_all()              # its thread stops after the current batch; results dropped
        self.progress.setVisible(False)
        self._model = model
        self._results = {}
        self._error = None
        self._first_done = False
        self.refresh()

    def _on_digit_group_clicked(self, button_id: int) -> None:
        self.set_digit(None if button_id == 10 else button_id)

    def _on_method_group_clicked(self, button_id: int) -> None:
        self.set_method(explain.METHODS[button_id])

    def _on_tabs_changed(self, index: int) -> None:
        self.refresh()

    # ---- computing ------------------------------------------------------------------------------------------

    def _compute(self) -> None:
        """Fill ``_results`` for the digits on show: back-projection here (all ten, milliseconds),
        maximisation through a worker job."""
        net = self._model.net
        done = self._results.setdefault(self._method, {})
        if self._method == "backproject":
            if len(done) < 10 and self._error is None:
                try:
                    for r in explain.imagine_all(net, "backproject"):
                        done[r.digit] = r
                except ValueError as exc:           # e.g. a network whose input is not 28x28
                    self._error = f"This model cannot be imagined: {exc}"
            return
        missing = [d for d in self.shown_digits() if d not in done]
        if missing and not self.jobs.busy and self._error is None:
            self._start_job(missing)

    def _start_job(self, digits: list[int]) -> None:
        work = _maximize_work(self._model.net.copy(), "maximize", list(digits), dict(self.maximize_options))
        self.jobs.start("maximize", work, method="maximize", digits=list(digits))
        self._done = 0
        self.progress.setRange(0, len(digits))
        self.progress.setValue(0)
        self.progress.setVisible(True)

    def _on_job_progressed(self, job: Job, values: tuple) -> None:
        items = values[0]
        method = job.info["method"]
        for r in items:
            self._results.setdefault(method, {})[r.digit] = r
        self._done += len(items)
        self.progress.setValue(self._done)
        if self.isVisible() and self._method == method and self.tabs.currentIndex() == 0:
            self._show_imagined()
            self.updated.emit()

    def _on_job_finished(self, job: Job) -> None:
        self.progress.setVisible(False)
        if job.error is not None:
            self._error = f"Activation maximisation failed: {type(job.error).__name__}: {job.error}"
        self.refresh()                      # start what is missing now (other digits)

    # ---- showing: imagine tab ---------------------------------------------------------------------------------

    def _show_imagined(self) -> None:
        first = self._first_kind()
        results = self._results.get(self._method, {})
        signed = self._method == "backproject"
        guide = signed and first == "dense"
        self.error_label.setText(self._error or "")
        self.error_label.setVisible(bool(self._error))
        waiting = "imagining…" if self._error is None else ""
        if self._digit is None:
            self.pages.setCurrentIndex(0)
            for d, tile in enumerate(self.tiles):
                r = results.get(d)
                if r is None:
                    tile.clear(waiting)
                    tile.caption.setText(f"<b>{d}</b>")
                    tile.setToolTip(f"Click to look at the {d} on its own")
                    continue
                tile.set_image(r.image, *self._levels_lut(r.image, signed))
                tile.caption.setText(verdict_html(r, short=True))
                tile.setToolTip(verdict_tooltip(r))
            for tile in self.tiles:
                tile.guide.setVisible(guide and tile.image is not None)
            self._set_bar(self.grid_bar, signed, None)
            self.explanation.setText(explanation(self._method, None, first, steps=self._steps()))
            return
        self.pages.setCurrentIndex(1)
        d = self._digit
        r = results.get(d)
        self._set_bar(self.single_bar, signed, d)
        if r is None:
            self.big.clear(waiting)
            self.big.caption.setText("")
            self.fed_box.clear(waiting)
            self.fed_box.caption.setText("")
            self.chart.set_probabilities(None, "imagining…" if self._error is None else "")
            self.chart.runner_label.setText("")
        else:
            self.big.set_image(r.image, *self._levels_lut(r.image, signed))
            self.big.caption.setText(verdict_html(r, short=False))
            fed = explain.as_input(r.image)
            self.fed_box.set_image(fed, (0.0, 1.0))
            self.fed_box.caption.setText("what the network reads: "
                                         + ("the red part as ink" if signed else "the image itself"))
            self.chart.set_probabilities(r.probabilities)
        self.big.guide.setVisible(guide and r is not None)
        self.explanation.setText(explanation(self._method, d, first, r, steps=self._steps()))

    def _steps(self) -> int:
        return int(self.maximize_options.get("steps", explain.MAXIMIZE_DEFAULTS["steps"]))

    @staticmethod
    def _levels_lut(image: np.ndarray, signed: bool):
        if signed:
            return (-1.0, 1.0), heatmap.DIVERGING_LUT          # back-projections have max |v| = 1
        top = float(image.max())
        return (0.0, top if top > 0 else 1.0), heatmap.GRAY_LUT         # stretched: brightest pixel white

    def _set_bar(self, bar: ColorBar, signed: bool, digit: int | None) -> None:
        if signed:
            what = str(digit) if digit is not None else "the digit"
            bar.set_scale(heatmap.DIVERGING_LUT, -1.0, 1.0,
                          [(1.0, f"for {what}"), (0.0, "no effect"), (-1.0, f"against {what}")])
        else:
            bar.set_scale(heatmap.GRAY_LUT, 0.0, 1.0, [(1.0, "brightest"), (0.5, "ink"), (0.0, "no ink")])

    def _first_kind(self) -> str | None:
        return explain.first_layer_kind(self._model.net) if self._model is not None else None

    # ---- showing: first-layer tab -----------------------------------------------------------------------------

    def _show_first_layer(self) -> None:
        if not self._first_done:
            self._first_done = True
            self.first_panel.set_network(self._model.net)
        image = self.image_source() if self.image_source is not None else None
        self.first_panel.set_drawing(image)
