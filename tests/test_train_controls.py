"""The Train view's run controls (issue 16, item 8): a Stop in the first epoch keeps the weights trained so far
(saved and used like any stopped run) and leaves no stale ETA; Start / Pause / Stop have shortcuts, named in
their tooltips and in Help › Keyboard shortcuts; tooltips wrap instead of running ~950 px across the screen."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, Qt as GuiQt
from PySide6.QtWidgets import QLabel, QWidget

from mnist_desktop.app import worker as worker_module
from mnist_desktop.app.main_window import MainWindow, app_settings
from mnist_desktop.app.state import AppState
from mnist_desktop.app.tooltips import wrapped
from mnist_desktop.app.train_progress import PAUSE_KEYS, START_KEYS, STOP_KEYS
from mnist_desktop.app.train_view import TrainView
from mnist_desktop.app.worker import divergence_message
from mnist_desktop.engine import load
from mnist_desktop.engine.train import BatchRecord, Trainer, TrainingDiverged

from test_train_view import setup_tiny_run


@pytest.fixture
def view(qtbot):
    v = TrainView(AppState(), settings=app_settings())
    qtbot.addWidget(v)
    v.resize(1100, 720)
    v.show()
    yield v
    v.shutdown()


@pytest.fixture
def holds_after_three_batches(monkeypatch):
    """The worker's Trainer pauses itself after its third batch (its gate is the worker's), so a test can
    Stop in the middle of epoch 1 whatever the machine's speed. Yields the initial weights seen."""
    initial = []

    class Holding(Trainer):
        def run(self):
            initial.append(self.net.snapshot())
            n = 0
            for record in super().run():
                yield record
                if isinstance(record, BatchRecord):
                    n += 1
                    if n == 3:
                        self.pause()

    monkeypatch.setattr(worker_module, "Trainer", Holding)
    return initial


def test_a_stop_in_the_first_epoch_keeps_the_weights_trained_so_far(qtbot, view, holds_after_three_batches, tmp_path):
    setup_tiny_run(view, epochs=2, batch_size=10, per_class=50)
    assert view.start()
    qtbot.waitUntil(lambda: view._worker is not None and view._worker.held, timeout=10_000)
    with qtbot.waitSignal(view.run_finished, timeout=10_000) as blocker:
        view.stop()
    outcome = blocker.args[0]
    assert outcome.status == "stopped" and not outcome.history and outcome.restored_epoch == 0
    assert outcome.net is not None
    trained, initial = outcome.net.arrays(), holds_after_three_batches[0]
    assert any(not np.array_equal(trained[k], initial[k]) for k in initial)     # three batches' steps in it
    assert "kept as trained so far" in view.banner.text and "not scored" in view.result_label.text()
    assert "ETA" not in view.run_bar.format() and "stopped" in view.run_bar.format()
    assert view.status_label.text().startswith("Stopped after")
    assert view.save_button.isEnabled() and view.use_button.isEnabled()
    assert view.save_model(tmp_path / "early.npz")
    net, spec = load(tmp_path / "early.npz")
    assert spec["training"]["history"] == [] and spec.get("test_accuracy") is None
    np.testing.assert_array_equal(net.arrays()[next(iter(trained))], trained[next(iter(trained))])


def test_a_stop_later_on_clears_the_eta_too(qtbot, view):
    setup_tiny_run(view, epochs=500, batch_size=10, per_class=30)
    view.start()
    qtbot.waitUntil(lambda: len(view.history) >= 1 and "ETA" in view.run_bar.format(), timeout=10_000)
    with qtbot.waitSignal(view.run_finished, timeout=10_000):
        view.stop()
    assert "ETA" not in view.run_bar.format() and "ETA" not in view.status_label.text()


def test_the_divergence_message_says_each_thing_once():
    exc = TrainingDiverged("training diverged: the loss exploded from 2.42 to 1.07e+06 at epoch 1, batch 3/5 "
                           "(learning rate 100). The network has the initial weights again; try a smaller "
                           "learning rate.", 1, 3, 0)
    text = divergence_message(exc, 100.0)
    assert text.lower().count("diverged") == 1 and text.count("learning rate") == 1
    assert text.count("try") == 1 and "try 10." in text and "exploded from 2.42 to 1.07e+06" in text
    assert "no trained weights to keep" in text


def test_start_pause_and_stop_have_shortcuts_shown_in_their_tooltips(qtbot, view):
    setup_tiny_run(view, epochs=500, batch_size=10, per_class=30)
    native = {k: QKeySequence(k).toString(QKeySequence.NativeText) for k in (START_KEYS, PAUSE_KEYS, STOP_KEYS)}
    assert native[START_KEYS] in view.start_button.toolTip()
    assert native[PAUSE_KEYS] in view.pause_button.toolTip() and native[STOP_KEYS] in view.stop_button.toolTip()
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=5_000)
    with qtbot.waitSignal(view.run_started, timeout=5_000):
        qtbot.keyClick(view, Qt.Key_F5)
    qtbot.keyClick(view, Qt.Key_F6)
    assert view.paused and view.pause_button.text() == "Resume" and native[PAUSE_KEYS] in view.pause_button.toolTip()
    qtbot.keyClick(view, Qt.Key_F6)
    assert not view.paused
    with qtbot.waitSignal(view.run_finished, timeout=10_000) as blocker:
        qtbot.keyClick(view, Qt.Key_F5, Qt.ShiftModifier)
    assert blocker.args[0].status == "stopped"


def test_the_shortcuts_are_listed_in_help_and_idle_on_other_views(qtbot, no_shipped_models):
    window = MainWindow(persist=False)
    qtbot.addWidget(window)
    window.show()
    rows = dict(window.shortcut_rows())
    assert rows[QKeySequence(START_KEYS).toString(QKeySequence.NativeText)] == "Train: Start a run"
    assert any("Pause" in what for what in rows.values()) and any("Stop" in what for what in rows.values())
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    assert window.current_view_key() == "draw"
    qtbot.keyClick(window, Qt.Key_F5)                  # the Train view is hidden: nothing starts
    assert not window.train_view.running


def test_long_tooltips_wrap(qtbot, no_shipped_models):
    """Qt word-wraps rich-text tooltips (QTipLabel: wordWrap = mightBeRichText): every tooltip in the window
    is short or rich text, and laid out as Qt lays out a tooltip it is at most 600 px wide."""
    window = MainWindow(persist=False)
    qtbot.addWidget(window)
    tips = {w.toolTip() for w in window.findChildren(QWidget) if w.toolTip()}
    assert len(tips) > 30
    too_wide = []
    for tip in tips:
        label = QLabel(tip)                 # what QToolTip shows
        label.setWordWrap(GuiQt.mightBeRichText(tip))
        if label.sizeHint().width() > 600:
            too_wide.append((label.sizeHint().width(), tip[:60]))
    assert not too_wide
    assert wrapped("short") == "short" and wrapped("a < b " * 20).startswith("<qt>a &lt; b")
