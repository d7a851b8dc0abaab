"""The Draw view: live preview and bars, blank and no-model states, bad files, the model picker."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mnist_desktop import shipped
from mnist_desktop.app.draw_view import OPEN_MODEL_TEXT, DrawView
from mnist_desktop.app.state import AppState, LoadedModel, ModelFileError
from mnist_desktop.preprocess import to_mnist

SEVEN = [[(80, 60), (200, 60), (120, 230)], [(110, 140), (190, 140)]]


@pytest.fixture
def state(make_model, no_shipped_models):
    s = AppState()
    s.open_model(make_model("tiny"))
    return s


@pytest.fixture
def view(qtbot, state):
    v = DrawView(state)
    qtbot.addWidget(v)
    v.resize(1000, 650)
    v.show()
    qtbot.waitExposed(v)
    return v


def draw_seven(view):
    for stroke in SEVEN:
        view.canvas.add_stroke(stroke)


def test_drawing_updates_preview_and_bars(view, qtbot, state):
    with qtbot.waitSignal(view.prediction_updated) as blocker:
        draw_seven(view)
    pred = blocker.args[0]
    pre = to_mnist(view.canvas.pixels())
    expected = state.model.net.predict_proba(pre.image.reshape(1, 784))[0]
    np.testing.assert_allclose(pred.probs, expected, rtol=1e-6)
    np.testing.assert_allclose(view.chart.probabilities, expected, rtol=1e-6)
    assert view.chart.bars.isVisible() and view.chart.hint_text == ""
    verdict = pred.verdict
    assert verdict is not None and verdict.digit == int(expected.argmax())
    # the tiny untrained model is seldom sure: its verdict is "?" then, "3 or 5?" beside it
    assert view.chart.digit_label.text() == (str(verdict.digit) if verdict.kind == "digit" else "?")
    assert view.chart.verdict_text == verdict.text
    heights = view.chart.bars.opts["height"]
    np.testing.assert_allclose(heights, expected)
    brushes = view.chart.bars.opts["brushes"]
    top = int(expected.argmax())
    other = next(i for i in range(10) if i not in (verdict.digit, verdict.second))
    assert brushes[top] != brushes[other]               # the top digit stands out
    np.testing.assert_array_equal(view.preview.net_pane.image_item.image, pre.image)
    np.testing.assert_array_equal(view.preview.fit_pane.image_item.image, pre.fitted)
    box = view.preview._box
    top_, left, bottom, right = pre.box
    assert box.isVisible() and box.rect().getCoords() == (left, top_, right, bottom)


def test_the_prediction_updates_while_the_stroke_is_drawn(view, qtbot):
    view.canvas.begin_stroke((80, 60))
    with qtbot.waitSignal(view.prediction_updated) as blocker:
        view.canvas.extend_stroke([(200, 60), (120, 230)])
    assert view.canvas.is_drawing()
    assert blocker.args[0].probs is not None


def test_fast_updates_are_coalesced(view, qtbot):
    """Fifty points before the event loop runs: one update, on the newest state."""
    updates = []
    view.prediction_updated.connect(updates.append)
    view.canvas.begin_stroke((80, 60))
    for i in range(50):
        view.canvas.extend_stroke([(80 + 2 * i, 60 + 3 * i)])
    qtbot.waitUntil(lambda: len(updates) >= 1)
    for _ in range(5):  # a stray queued update would run here (there must be none)
        QApplication.processEvents()
    assert len(updates) == 1
    np.testing.assert_array_equal(updates[0].pre.gray, view.canvas.pixels())


def test_a_pen_move_repaints_the_canvas_only_around_the_new_segment(view, qtbot):
    """With the saliency overlay off, each prediction says "no overlay" to the canvas: that must not
    repaint the whole canvas (it did, once per pen move: ~0.8 ms of every update)."""
    from PySide6.QtCore import QEvent, QObject

    class Paints(QObject):
        def __init__(self):
            super().__init__()
            self.rects = []

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Paint:
                self.rects.append(event.rect())
            return False

    view.canvas.begin_stroke((80, 60))
    with qtbot.waitSignal(view.prediction_updated):
        view.canvas.extend_stroke([(200, 60)])
    paints = Paints()
    view.canvas.installEventFilter(paints)
    for i in range(5):
        with qtbot.waitSignal(view.prediction_updated):
            view.canvas.extend_stroke([(200 - 10 * i, 70 + 12 * i)])
        qtbot.waitUntil(lambda: len(paints.rects) >= i + 1)
    view.canvas.removeEventFilter(paints)
    whole = view.canvas.canvas_rect()
    assert paints.rects and all(r.width() < whole.width() / 2 and r.height() < whole.height() / 2
                                for r in paints.rects), [r.getRect() for r in paints.rects]
    assert view.canvas.overlay() is None


def test_blank_canvas_shows_the_hint_and_no_bars(view, qtbot):
    view.refresh_now()
    assert view.prediction.probs is None and view.prediction.pre is None
    assert view.chart.probabilities is None
    assert not view.chart.bars.isVisible()
    assert view.chart.hint_text == "Draw a digit"
    assert not view.preview._box.isVisible()


def test_clear_and_undo_buttons(view, qtbot):
    draw_seven(view)
    view.refresh_now()
    assert view.prediction.probs is not None
    with qtbot.waitSignal(view.prediction_updated):
        qtbot.mouseClick(view.clear_button, Qt.LeftButton)
    assert view.canvas.is_blank() and view.chart.probabilities is None
    with qtbot.waitSignal(view.prediction_updated):
        qtbot.mouseClick(view.undo_button, Qt.LeftButton)   # the cleared drawing comes back
    assert len(view.canvas.strokes()) == 2 and view.chart.probabilities is not None
    with qtbot.waitSignal(view.prediction_updated):
        qtbot.mouseClick(view.undo_button, Qt.LeftButton)   # the last stroke goes
    assert view.canvas.strokes() == [list(map(tuple, SEVEN[0]))]


def test_pen_slider_sets_the_pen_width(view):
    view.pen_slider.setValue(25)
    assert view.canvas.pen_width == 25
    assert view.pen_label.text() == "25 / 280"


def test_without_a_model_the_preview_still_works(qtbot, no_shipped_models):
    v = DrawView(AppState())
    qtbot.addWidget(v)
    draw_seven(v)
    pred = v.refresh_now()
    assert pred.pre is not None and pred.probs is None
    assert "No model" in v.chart.hint_text
    assert v.model_picker.currentIndex() == -1


def test_an_unreadable_model_leaves_the_old_model_working(view, state, tmp_path, qtbot):
    old = state.model
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(ModelFileError):
        state.open_model(bad)
    assert state.model is old
    # the same through the picker: an entry whose file went bad since it was listed
    good = tmp_path / "tiny.npz"
    view.add_model_choice(good)  # already listed (current): no duplicate
    assert [view.model_picker.itemText(i) for i in range(view.model_picker.count())].count(old.label) == 1
    view._choices.append(type(view._choices[0])("broken", path=bad))
    view.model_picker.insertItem(len(view._choices) - 1, "broken")
    view._on_model_picker_activated(len(view._choices) - 1)
    assert state.model is old
    assert view.banner.level == "error" and "keeping the current one" in view.banner.text
    assert view.model_picker.currentIndex() == 0
    draw_seven(view)
    assert view.refresh_now().probs is not None


def test_picker_lists_shipped_models_and_switches(qtbot, make_model, monkeypatch):
    a, b = make_model("alpha", seed=1, accuracy=0.91), make_model("beta", seed=2, accuracy=None)
    monkeypatch.setattr(shipped, "shipped_models", lambda: [a, b])
    state = AppState()
    v = DrawView(state)
    qtbot.addWidget(v)
    texts = [v.model_picker.itemText(i) for i in range(v.model_picker.count())]
    assert texts[0] == "alpha · 784-16-10 relu · 91.0%"
    assert texts[1] == "beta · 784-16-10 relu · ?"
    assert texts[-1] == OPEN_MODEL_TEXT
    assert state.model is None               # listing does not load
    with qtbot.waitSignal(state.model_changed):
        v._on_model_picker_activated(1)
    assert state.model.name == "beta" and v.model_picker.currentIndex() == 1
    with qtbot.waitSignal(v.open_model_requested):
        v._on_model_picker_activated(v.model_picker.count() - 1)
    assert v.model_picker.currentIndex() == 1  # "Open model…" is an action, not a selection


def test_a_model_set_from_elsewhere_joins_the_picker(view, state, qtbot):
    """What 'Use in Draw view' after training does: set_model with an in-memory model."""
    net = state.model.net.copy()
    net.layers[-1].params["b"][:] = np.arange(10) * 10.0  # makes 9 win whatever the input
    trained = LoadedModel.from_network(net, {"name": "just trained", "test_accuracy": 0.97})
    state.set_model(trained)
    assert view.model_picker.currentText() == "just trained · 784-16-10 relu · 97.0%"
    draw_seven(view)
    assert view.refresh_now().digit == 9


def test_opening_a_text_file_as_an_image_is_an_error_not_a_crash(view, tmp_path):
    draw_seven(view)
    f = tmp_path / "notes.png"
    f.write_text("hello, I am text")
    assert view.open_image(f) is False
    assert view.banner.level == "error" and "notes.png" in view.banner.text
    assert len(view.canvas.strokes()) == 2  # the drawing is kept


def test_opening_and_dropping_an_image(view, tmp_path, qtbot):
    from PySide6.QtGui import QColor, QImage, QPainter, QPen

    img = QImage(120, 90, QImage.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setPen(QPen(QColor("black"), 8))
    p.drawLine(60, 10, 60, 80)
    p.end()
    path = tmp_path / "one.png"
    assert img.save(str(path))
    with qtbot.waitSignal(view.prediction_updated) as blocker:
        view.canvas.file_dropped.emit(str(path))   # what a drop does
    pred = blocker.args[0]
    assert view.canvas.image() is not None
    assert pred.pre is not None and pred.pre.inverted and pred.probs is not None
    assert pred.pre.gray.shape == (90, 120)


def test_a_blank_image_is_refused_with_a_warning(view, tmp_path):
    from PySide6.QtGui import QColor, QImage

    img = QImage(40, 40, QImage.Format_RGB32)
    img.fill(QColor("white"))
    path = tmp_path / "blank.png"
    img.save(str(path))
    draw_seven(view)
    assert view.open_image(path) is False
    assert view.banner.level == "warning" and view.canvas.image() is None
    assert len(view.canvas.strokes()) == 2


def test_state_rejects_a_model_without_ten_outputs_and_keeps_the_current_one(state, tmp_path, qtbot):
    from mnist_desktop.engine import serialize
    from mnist_desktop.engine.network import Network
    from mnist_desktop.engine.presets import mlp

    net = Network.from_architecture(mlp([784, 8, 5]), rng=np.random.default_rng(0))
    path = tmp_path / "five.npz"
    serialize.save(net, path)
    old = state.model
    with pytest.raises(ModelFileError, match="5 outputs"):
        state.open_model(path)
    assert state.model is old
    with qtbot.waitSignal(state.model_changed) as blocker:
        state.set_model(None)
    assert blocker.args == [None] and state.model is None


# ---- saliency overlay ----------------------------------------------------------------------------


def overlay_array(view):
    """The canvas overlay as (H, W, 4) uint8 RGBA, or None."""
    img = view.canvas.overlay()
    if img is None:
        return None
    from PySide6.QtGui import QImage
    img = img.convertToFormat(QImage.Format_RGBA8888)
    buf = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return buf[:, :4 * img.width()].reshape(img.height(), img.width(), 4).copy()


def test_the_saliency_toggle_shows_and_hides_the_overlay(view, qtbot):
    assert not view.saliency_visible and view.saliency_button.isCheckable()
    assert view.saliency_button.shortcut().toString() == "S" and "S" in view.saliency_button.toolTip()
    draw_seven(view)
    view.refresh_now()
    assert view.canvas.overlay() is None and not view.preview.saliency_item.isVisible()
    with qtbot.waitSignal(view.prediction_updated):
        qtbot.mouseClick(view.saliency_button, Qt.LeftButton)
    assert view.saliency_visible and view.canvas.overlay() is not None
    assert view.preview.saliency_item.isVisible() and view.preview.saliency_item.image.shape == (28, 28, 4)
    digit = view.prediction.digit
    assert view.attribution_method == "strokes"             # the default: the ink that decided
    assert view.saliency_legend.isVisible() and view.saliency_legend.text().startswith("Strokes:")
    assert f"for {digit}" in view.saliency_legend.text()
    with qtbot.waitSignal(view.prediction_updated):
        view.set_saliency_visible(False)
    assert view.canvas.overlay() is None and not view.preview.saliency_item.isVisible()
    assert not view.saliency_legend.isVisible()


def test_while_the_pen_is_down_the_overlay_follows_on_a_timer_and_at_once_on_pen_up(view, qtbot):
    """One backward pass per mouse move would double the cost of a move: the bars follow every move,
    the overlay at most every SALIENCY_EVERY_MS, and exactly the final drawing once the pen is lifted."""
    from mnist_desktop.app import draw_view as dv

    view.set_saliency_visible(True)
    view.canvas.begin_stroke((60, 60))
    view.canvas.extend_stroke([(200, 60), (200, 120)])
    view.refresh_now()
    assert view.prediction.probs is not None and view.canvas.overlay() is None
    qtbot.waitUntil(lambda: view.canvas.overlay() is not None, timeout=dv.SALIENCY_EVERY_MS * 20)
    during = view.canvas.overlay().copy()
    view.canvas.extend_stroke([(120, 240)])
    view.canvas.end_stroke()
    with qtbot.waitSignal(view.prediction_updated):
        pass
    assert not view._saliency_timer.isActive()
    assert not np.array_equal(view.canvas.overlay(), during)   # the whole stroke, straight after pen up


def _frame_on_input(pre, shape):
    """(top, left, bottom, right) of the 28x28 frame mapped back onto an overlay of ``shape``, grown by the
    half 28x28 pixel over which the interpolation fades the edge pixels out."""
    from mnist_desktop.preprocess import input_to_net_transform

    s, row0, col0 = input_to_net_transform(pre)
    ky, kx = shape[0] / pre.gray.shape[0], shape[1] / pre.gray.shape[1]
    return ((-0.5 - row0) / s * ky, (-0.5 - col0) / s * kx, (28.5 - row0) / s * ky, (28.5 - col0) / s * kx)


def test_the_overlay_lies_on_the_strokes_not_far_from_the_ink(view):
    """A short stroke in the top-left corner: the overlay covers it and stops at the 28x28 frame (about
    28/20 of the ink's height around it); the rest of the canvas has none."""
    view.set_saliency_visible(True)
    view.canvas.add_stroke([(60, 40), (70, 120)])
    pred = view.refresh_now()
    alpha = overlay_array(view)[..., 3]
    assert alpha.shape == (280, 280)
    ink = view.canvas.pixels() > 0.5
    assert alpha[ink].mean() > 10 and (alpha[ink] > 0).mean() > 0.9   # the stroke is covered
    top, left, bottom, right = _frame_on_input(pred.pre, alpha.shape)
    assert bottom < 200 and right < 200
    assert alpha[int(bottom) + 2:].max() == 0 and alpha[:, int(right) + 2:].max() == 0   # far away: nothing


def test_the_overlay_follows_the_model_and_vanishes_on_a_blank_canvas(view, state, qtbot):
    view.set_saliency_visible(True)
    draw_seven(view)
    view.refresh_now()
    first = overlay_array(view)
    net = state.model.net.copy()
    net.layers[0].params["W"][:] = np.random.default_rng(5).standard_normal(net.layers[0].params["W"].shape)
    with qtbot.waitSignal(view.prediction_updated):
        state.set_model(LoadedModel.from_network(net, {"name": "other"}))
    assert not np.array_equal(overlay_array(view), first)   # recomputed for the new model
    with qtbot.waitSignal(view.prediction_updated):
        view.clear()
    assert view.canvas.overlay() is None and not view.preview.saliency_item.isVisible()
    assert view.saliency_legend.isVisible() and "draw a digit" in view.saliency_legend.text()


def test_the_overlay_on_an_opened_image_covers_the_image(view, tmp_path, qtbot):
    from PySide6.QtGui import QColor, QImage, QPainter, QPen

    img = QImage(600, 450, QImage.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setPen(QPen(QColor("black"), 30))
    p.drawLine(300, 50, 300, 400)
    p.end()
    path = tmp_path / "one.png"
    assert img.save(str(path))
    view.set_saliency_visible(True)
    assert view.open_image(path)
    view.refresh_now()
    over = overlay_array(view)
    assert over.shape[:2] == (300, 400)          # the image's aspect, at most 400 px on the long side
    pre = view.prediction.pre
    top, left, bottom, right = _frame_on_input(pre, over.shape)
    assert over[:, 190:210, 3].max() > 0                       # on the stroke
    assert over[:, :int(left) - 1, 3].max() == 0 and over[:, int(right) + 2:, 3].max() == 0


# ---- a digit from another view ------------------------------------------------------------------


def test_show_digit_puts_a_28x28_digit_on_the_canvas(view, state, qtbot):
    """A test digit from another view: on the canvas (undoable), preview and bars follow."""
    from pathlib import Path

    from mnist_desktop.data import load_dataset

    ds = load_dataset(data_dir=Path(__file__).parent / "data")
    digit = ds.x_test[0].reshape(28, 28)
    draw_seven(view)
    with qtbot.waitSignal(view.prediction_updated) as blocker:
        view.show_digit(digit, int(ds.y_test[0]))
    pred = blocker.args[0]
    assert view.canvas.image().shape == (280, 280) and view.canvas.strokes() == []
    assert pred.pre is not None and np.abs(pred.pre.image - digit).mean() < 0.06
    np.testing.assert_allclose(view.chart.probabilities,
                               state.model.net.predict_proba(pred.pre.image.reshape(1, 784))[0], rtol=1e-6)
    assert f"labelled {int(ds.y_test[0])}" in view.banner.text
    view.undo()
    assert len(view.canvas.strokes()) == 2


# ---- unsure / not a digit; which saliency map ------------------------------------------------------------


@pytest.fixture
def shipped_view(qtbot):
    """The Draw view with the shipped CNN and its calibration."""
    s = AppState()
    s.open_model(shipped.MODELS_DIR / "cnn.npz")
    v = DrawView(s)
    qtbot.addWidget(v)
    v.resize(1000, 650)
    v.show()
    qtbot.waitExposed(v)
    return v


def test_a_dot_a_scribble_and_an_x_are_not_digits(shipped_view, qtbot):
    from mnist_desktop import nondigits
    from mnist_desktop.confidence import NOT_A_DIGIT

    v = shipped_view
    cases = {"dot": [[(120, 150)]],
             "scribble": nondigits.make("scribble", np.random.default_rng(0)).strokes,
             "x": [[(70, 60), (210, 220)], [(210, 60), (70, 220)]]}
    for name, strokes in cases.items():
        v.clear()
        for stroke in strokes:
            v.canvas.add_stroke(stroke)
        pred = v.refresh_now()
        assert pred.verdict.kind == "not_digit", name
        assert v.chart.verdict_text == NOT_A_DIGIT and v.chart.digit_label.text() == "?"
        assert "doesn't look like a digit" in v.chart.detail_label.text()
        assert pred.verdict.because in v.chart.runner_label.text()
        assert len(set(map(str, v.chart.bars.opts["brushes"]))) == 1        # no bar highlighted
    v.clear()
    v.canvas.add_stroke([(140, 40), (136, 240)])                          # a plain 1
    pred = v.refresh_now()
    assert pred.verdict.kind == "digit" and pred.verdict.calibrated and v.chart.digit_label.text() == "1"


def test_close_answers_are_shown_as_a_question(view, qtbot, monkeypatch):
    """A model torn between two digits: the heading asks "3 or 5?" and both bars stand out."""
    from mnist_desktop.engine.network import Network

    def torn(net, x, *a, **k):
        out = np.full((len(x), 10), -5.0, np.float32)
        out[:, 3], out[:, 5] = 1.0, 0.6
        return out, np.zeros((len(x), 16), np.float32)

    monkeypatch.setattr("mnist_desktop.app.draw_view.outputs_and_features", torn)
    draw_seven(view)
    pred = view.refresh_now()
    assert (pred.verdict.kind, pred.verdict.text) == ("unsure", "3 or 5?")
    assert view.chart.verdict_text == "3 or 5?" and "3 or 5?" in view.chart.detail_label.text()
    assert "Not sure" in view.chart.detail_label.text() and view.chart.digit_label.text() == "?"
    brushes = view.chart.bars.opts["brushes"]
    assert brushes[3] == brushes[5] != brushes[0]
    assert isinstance(view.state.model.net, Network)


def test_the_attribution_picker_switches_the_overlay_and_its_legend(view, qtbot):
    from mnist_desktop.explain import ATTRIBUTIONS, attribution

    assert [view.attribution_picker.itemData(i) for i in range(view.attribution_picker.count())] == list(ATTRIBUTIONS)
    view.set_saliency_visible(True)
    draw_seven(view)
    pred = view.refresh_now()
    strokes = view.preview.saliency_item.image.copy()
    with qtbot.waitSignals([view.attribution_changed, view.prediction_updated]):
        view.set_attribution_method("gradient")
    assert view.attribution_method == "gradient"
    assert view.saliency_legend.text().startswith("|Gradient|:")
    assert not np.array_equal(view.preview.saliency_item.image, strokes)
    ink = pred.pre.image == 0
    assert attribution(view.state.model.net, pred.pre.image, pred.digit, "gradient")[ink].max() > 0
    view.set_attribution_method("no such map")                 # e.g. from an old settings file: ignored
    assert view.attribution_method == "gradient"


def test_a_model_without_a_calibration_gets_one_in_the_background(qtbot, make_model, no_shipped_models, monkeypatch):
    """auto_calibrate: the MNIST training digits found on this machine (here the test subset) give the
    model its calibration on a worker thread; it is kept in the app's data folder, so the next view (or
    the next run) has it at once."""
    from pathlib import Path

    from mnist_desktop.app import draw_view as dv
    from mnist_desktop.confidence import cached_calibration_path
    from mnist_desktop.data import datasets

    data = Path(__file__).parent / "data"
    monkeypatch.setattr(datasets, "find_dataset", lambda name="mnist", data_dir=None: data)
    state = AppState()
    state.open_model(make_model("uncalibrated"))
    view = DrawView(state)
    qtbot.addWidget(view)
    view.auto_calibrate = True
    draw_seven(view)
    pred = view.refresh_now()
    assert not pred.verdict.calibrated                                   # shape rules only, meanwhile
    qtbot.waitUntil(lambda: view._calibration[1] is not None, timeout=60_000)
    qtbot.waitUntil(lambda: view.prediction.verdict.calibrated, timeout=5_000)
    assert cached_calibration_path(dv.calibration_dir(), state.model.net).is_file()
    other = DrawView(state)                                              # found again: no second job
    qtbot.addWidget(other)
    other.auto_calibrate = True
    draw_seven(other)
    assert other.refresh_now().verdict.calibrated and not other.jobs.busy
    view.shutdown()


def test_without_mnist_there_is_no_calibration_job(view, monkeypatch):
    from mnist_desktop.data import datasets

    monkeypatch.setattr(datasets, "find_dataset", lambda name="mnist", data_dir=None: None)
    view.auto_calibrate = True
    view._calibration = (None, None)
    draw_seven(view)
    assert not view.refresh_now().verdict.calibrated and not view.jobs.busy


def test_integrated_gradients_follow_on_pen_up_only(view, qtbot):
    """16 backward passes per map: while the pen moves the integrated overlay waits for the pen to lift."""
    view.set_saliency_visible(True)
    view.set_attribution_method("integrated")
    view.canvas.begin_stroke((60, 60))
    view.canvas.extend_stroke([(200, 60), (200, 120)])
    view.refresh_now()
    assert view.canvas.overlay() is None and not view._saliency_timer.isActive()
    view.canvas.extend_stroke([(120, 240)])
    view.canvas.end_stroke()
    view.refresh_now()
    assert view.canvas.overlay() is not None
    assert "pen is lifted" in view.saliency_legend.text()
