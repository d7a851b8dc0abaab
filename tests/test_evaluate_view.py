"""The Evaluate view: accuracy, confusion matrix and gallery follow the model (computed in a worker,
cached per model file), a cell click filters the gallery, a thumbnail reaches the Draw view, damage
sliders and the rotation curve, comparing two models, and missing test data."""

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from mnist_desktop import evaluation
from mnist_desktop.app import evaluate_view, evaluate_widgets
from mnist_desktop.app.evaluate_view import K_DATA_DIR, EvaluateView
from mnist_desktop.app.main_window import MainWindow, app_settings
from mnist_desktop.app.state import AppState, LoadedModel
from mnist_desktop.data import load_dataset
from mnist_desktop.engine import serialize
from mnist_desktop.engine.network import Network
from mnist_desktop.engine.presets import mlp
from mnist_desktop.evaluation import Damage, EvaluationCache
from mnist_desktop.preprocess import to_mnist

DATA = Path(__file__).parent / "data"          # 1,000 test digits, 100 of each


@pytest.fixture(autouse=True)
def only_our_data(monkeypatch, tmp_path):
    """The view must find only the data we point it at."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def test_set():
    ds = load_dataset(data_dir=DATA)
    return ds.x_test, ds.y_test


@pytest.fixture
def settings():
    s = app_settings()
    s.setValue(K_DATA_DIR, str(DATA))
    return s


@pytest.fixture
def save_model(tmp_path):
    """save_model(name, seed) -> path of a small trained-looking 784-16-10 model file."""
    def save(name="tiny", seed=0, path=None):
        net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(seed))
        path = path or tmp_path / f"{name}.npz"
        serialize.save(net, path, serialize.model_spec(net, name=name))
        return path
    return save


@pytest.fixture
def state():
    return AppState()


@pytest.fixture
def view(qtbot, state, settings):
    v = EvaluateView(state, settings, cache=EvaluationCache())
    qtbot.addWidget(v)
    v.resize(1200, 720)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.shutdown()


def wait_idle(qtbot, view):
    qtbot.waitUntil(lambda: not view.busy, timeout=20_000)


def show_model(qtbot, view, state, path):
    with qtbot.waitSignal(view.evaluated, timeout=20_000):
        state.open_model(path)
    return state.model


# ---- accuracy and the confusion matrix ----------------------------------------------------------------


def test_the_matrix_sums_to_n_and_its_diagonal_is_the_correct_count(view, state, save_model, test_set, qtbot):
    """The view's numbers are evaluation.evaluate's on the test set, computed off the UI thread."""
    x, y = test_set
    busy = []
    view.busy_changed.connect(busy.append)
    model = show_model(qtbot, view, state, save_model())
    assert busy[0] is True
    expected = evaluation.evaluate(model.net, x, y)
    conf = view.matrix.conf
    np.testing.assert_array_equal(conf, expected.confusion)
    assert conf.sum() == len(y) == 1000 and np.trace(conf) == expected.correct
    assert view.header.accuracy.text() == f"{100 * expected.accuracy:.2f}%"
    assert f"{expected.correct:,}</b> of <b>1,000</b>" in view.header.detail.text()
    np.testing.assert_allclose(view.per_class.bars.opts["height"] + view.per_class.bars.opts["y0"],
                               expected.per_class * 100)
    wait_idle(qtbot, view)
    assert not view.header.progress.isVisible()


def test_the_most_frequent_mistake_is_selected_first(view, state, save_model, qtbot):
    show_model(qtbot, view, state, save_model())
    t, p, n = view.evaluation.top_confusions(1)[0]
    assert view.selected_cell == (t, p) and len(view.gallery_indices()) == n
    assert f"{t}s read as {p}: {n:,} digit" in view.gallery_title.text()


def cell_center(matrix, row, col) -> QPoint:
    left, top, side = matrix._geometry()
    return QPoint(int(left + (col + 0.5) * side), int(top + (row + 0.5) * side))


def test_clicking_a_cell_filters_the_gallery_to_exactly_its_digits(view, state, save_model, test_set, qtbot):
    x, y = test_set
    model = show_model(qtbot, view, state, save_model())
    e = view.evaluation
    conf = e.confusion
    d = int(np.argmax(np.diag(conf)))
    for row, col in [(d, d), tuple(int(v) for v in np.argwhere(conf * (1 - np.eye(10, dtype=int)) > 0)[-1])]:
        with qtbot.waitSignal(view.matrix.cell_clicked):
            qtbot.mouseClick(view.matrix, Qt.LeftButton, pos=cell_center(view.matrix, row, col))
        assert view.selected_cell == (row, col) and view.matrix.selected == (row, col)
        idx = view.gallery_indices()
        np.testing.assert_array_equal(idx, np.flatnonzero((y == row) & (e.predicted == col)))
        assert view.gallery.count() == len(idx) == conf[row, col]
        # thumbnails are the digits, the tooltips their probabilities
        item = view.gallery.item(0)
        i = int(item.data(Qt.UserRole))
        probs = model.net.predict_proba(x[i:i + 1])[0]
        assert f"Test digit #{i}</b>: labelled {row}, read as" in item.toolTip()
        assert f"{100 * probs.max():.1f}%" in item.toolTip()
        assert view.gallery.iconSize().width() == 56


def test_a_crowded_cell_shows_the_first_digits_and_says_so(view, state, save_model, qtbot, monkeypatch):
    monkeypatch.setattr(evaluate_widgets, "GALLERY_LIMIT", 5)
    show_model(qtbot, view, state, save_model())
    t, p = np.unravel_index(np.argmax(view.evaluation.confusion), (10, 10))
    view.select_cell(int(t), int(p))
    assert view.gallery.count() == 5
    assert "The first 5 of" in view.gallery_note.text()


# ---- cache and model changes ------------------------------------------------------------------------------


def test_switching_back_to_a_model_file_is_instant_and_a_changed_file_is_evaluated_again(view, state, save_model,
                                                                                          qtbot, test_set):
    a, b = save_model("a", 1), save_model("b", 2)
    show_model(qtbot, view, state, a)
    first = view.evaluation
    show_model(qtbot, view, state, b)
    assert view.evaluation is not first
    with qtbot.waitSignal(view.evaluated, timeout=1000):
        state.open_model(a)                         # a new LoadedModel of the same file
    assert view.evaluation is first and not view.busy          # from the cache: no job started
    key = evaluation.model_file_key(a)
    save_model("a", 3, path=a)                                  # saved over with other weights
    os.utime(a, ns=(key[2] + 10**9, key[2] + 10**9))
    model = show_model(qtbot, view, state, a)
    assert view.evaluation is not first
    np.testing.assert_array_equal(view.evaluation.predicted, model.net.predict(test_set[0]))


def test_a_new_model_mid_evaluation_wins(view, state, save_model, qtbot, test_set):
    """Results of a job for the old model must never be shown for the new one."""
    state.open_model(save_model("old", 4))
    assert view.busy
    new = show_model(qtbot, view, state, save_model("new", 5))
    wait_idle(qtbot, view)
    qtbot.waitUntil(lambda: view.jobs.threads == 0, timeout=20_000)    # the old job's end handled: dropped
    np.testing.assert_array_equal(view.evaluation.predicted, new.net.predict(test_set[0]))


def test_a_model_in_memory_is_evaluated_too(view, state, qtbot, test_set):
    net = Network.from_architecture(mlp([784, 8, 10]), rng=np.random.default_rng(6))
    with qtbot.waitSignal(view.evaluated, timeout=20_000):
        state.set_model(LoadedModel.from_network(net, {"name": "just trained"}))
    assert view.evaluation.correct == np.count_nonzero(net.predict(test_set[0]) == test_set[1])


def test_nothing_is_computed_while_hidden(qtbot, state, settings, save_model):
    v = EvaluateView(state, settings)
    qtbot.addWidget(v)
    state.open_model(save_model())
    assert not v.busy and v.evaluation is None
    with qtbot.waitSignal(v.evaluated, timeout=20_000):
        v.show()
    v.shutdown()


def test_no_model_shows_a_hint(view, state):
    assert view.outer.currentWidget() is view.hint and "No model loaded" in view.hint.text()


# ---- missing test data ------------------------------------------------------------------------------------------


def test_missing_test_data_shows_a_message_and_a_folder_button(qtbot, state, save_model, tmp_path):
    settings = app_settings()
    settings.setValue(K_DATA_DIR, str(tmp_path / "nowhere"))
    v = EvaluateView(state, settings)
    qtbot.addWidget(v)
    v.show()
    state.open_model(save_model())
    assert not v.busy and v.outer.currentIndex() == 1
    text = v.missing_label.text()
    assert "not found" in text and str(tmp_path / "nowhere") in text and "Train" in text and "Download" in text
    assert v.choose_button.isVisible() and v.choose_button.text() == "Choose folder…"
    with qtbot.waitSignal(v.evaluated, timeout=20_000):
        v.set_data_dir(str(DATA))                 # what "Choose folder…" does with the folder picked
    assert settings.value(K_DATA_DIR) == str(DATA) and v.evaluation.n == 1000
    assert v.outer.currentWidget() is v.content
    v.shutdown()


def test_broken_test_data_is_a_message_not_a_crash(qtbot, state, save_model, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in DATA.glob("*.gz"):
        (bad / f.name).write_bytes(b"not gzip")
    (bad / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    settings = app_settings()
    settings.setValue(K_DATA_DIR, str(bad))
    v = EvaluateView(state, settings)
    qtbot.addWidget(v)
    v.show()
    state.open_model(save_model())
    qtbot.waitUntil(lambda: not v.busy, timeout=20_000)
    qtbot.waitUntil(lambda: v.outer.currentIndex() == 1, timeout=5_000)
    assert "cannot load MNIST" in v.missing_label.text()
    v.shutdown()


# ---- robustness -----------------------------------------------------------------------------------------------


def test_damage_sliders_recompute_in_the_background(view, state, save_model, qtbot, test_set):
    x, y = test_set
    model = show_model(qtbot, view, state, save_model())
    view.tabs.setCurrentIndex(1)
    assert view.damage_accuracy.text() == view.header.accuracy.text()      # undamaged: the same number
    view.sliders["rotate"].set_value(45)
    view.sliders["noise"].set_value(0.3)
    assert view.damaged is None and view._damage_timer.isActive()          # debounced: nothing yet
    np.testing.assert_array_equal(view.samples.indices, np.arange(evaluate_view.SAMPLES))
    qtbot.waitUntil(lambda: view.damaged is not None, timeout=20_000)
    d, e = view.damaged
    assert d == Damage(rotate=45, noise=0.3)
    expected = evaluation.evaluate(model.net, evaluation.damage(x, d), y)
    np.testing.assert_array_equal(e.predicted, expected.predicted)
    assert view.damage_accuracy.text() == f"{100 * expected.accuracy:.2f}%"
    assert "rotated 45°, noise σ 0.3" in view.damage_detail.text() and "points" in view.damage_detail.text()
    view.reset_damage()
    view._update_damage()                                                    # (what the timer does)
    assert view.damaged is None and view.damage_accuracy.text() == view.header.accuracy.text()
    view.set_damage(d)
    view._update_damage()
    assert view.damaged[1] is e                                              # back to it: cached


def test_accuracy_against_rotation_on_demand(view, state, save_model, qtbot, test_set):
    x, y = test_set
    model = show_model(qtbot, view, state, save_model())
    view.tabs.setCurrentIndex(1)
    assert view.rotation_curve() is None and "Compute" in view.curve_hint.toPlainText()
    view.compute_rotation_curve()
    assert view.curve_progress.isVisible() and not view.curve_button.isEnabled()
    qtbot.waitUntil(lambda: view.rotation_curve() is not None, timeout=30_000)
    curve = view.rotation_curve()
    expected = evaluation.rotation_curve(model.net, x, y, evaluate_view.ROTATION_ANGLES)
    np.testing.assert_allclose(curve.accuracy, expected.accuracy)
    xs, ys = view.curve.getData()
    np.testing.assert_allclose(xs, np.arange(-60, 61, 10))
    np.testing.assert_allclose(ys, expected.accuracy * 100)
    assert not view.curve_progress.isVisible() and view.curve_button.isEnabled()


# ---- compare -----------------------------------------------------------------------------------------------------


def test_compare_two_models_both_ways(view, state, save_model, qtbot, test_set):
    x, y = test_set
    a = show_model(qtbot, view, state, save_model("a", 7))
    other = save_model("b", 8)
    view.tabs.setCurrentIndex(2)
    assert "Pick a second model" in view.compare_summary.text()
    assert view.compare_with(other)
    qtbot.waitUntil(lambda: view.comparison is not None, timeout=20_000)
    b_net = serialize.load(other)[0]
    expected = evaluation.compare(evaluation.evaluate(a.net, x, y), evaluation.evaluate(b_net, x, y))
    c = view.comparison
    np.testing.assert_array_equal(c.only_a, expected.only_a)
    np.testing.assert_array_equal(c.only_b, expected.only_b)
    np.testing.assert_array_equal(view.only_a_gallery.indices, expected.only_a[:evaluate_view.GALLERY_LIMIT])
    np.testing.assert_array_equal(view.only_b_gallery.indices, expected.only_b[:evaluate_view.GALLERY_LIMIT])
    assert f"{100 * expected.accuracy_b:.2f}%" in view.compare_b.text()
    assert f"A right, B wrong: {len(expected.only_a):,}" in view.only_a_title.text()
    assert view.compare_picker.currentText().startswith("b ·")
    assert not view.compare_with(Path(other).with_name("missing.npz"))      # a message, not a crash
    assert "Could not open" in view.compare_summary.text()


# ---- to the Draw view ------------------------------------------------------------------------------------------------


def test_a_thumbnail_click_reaches_the_draw_view(qtbot, save_model, settings, test_set, no_shipped_models):
    x, y = test_set
    window = MainWindow(settings=settings, persist=False)
    qtbot.addWidget(window)
    window.resize(1200, 760)
    window.show()
    window.open_model(save_model())
    view = window.view("evaluate")
    with qtbot.waitSignal(view.evaluated, timeout=20_000):
        window.show_view("evaluate")
    item = view.gallery.item(0)
    i = int(item.data(Qt.UserRole))
    with qtbot.waitSignal(view.digit_chosen) as blocker:
        rect = view.gallery.visualItemRect(item)
        qtbot.mouseClick(view.gallery.viewport(), Qt.LeftButton, pos=rect.center())
    image, label = blocker.args
    np.testing.assert_array_equal(image, x[i].reshape(28, 28))
    assert label == y[i]
    assert window.current_view_key() == "draw"
    draw = window.draw_view
    pre = draw.prediction.pre
    assert pre is not None and draw.canvas.image() is not None
    np.testing.assert_allclose(draw.chart.probabilities, window.state.model.net.predict_proba(pre.image.reshape(1, 784))[0],
                               rtol=1e-5)
    assert f"labelled {y[i]}" in draw.banner.text
    # what the network sees is the test digit's own pixels, so both views give the same probabilities
    np.testing.assert_array_equal(pre.image, x[i].reshape(28, 28))
    e = view.evaluation
    np.testing.assert_allclose(draw.chart.probabilities, e.probabilities[i], rtol=1e-4, atol=1e-6)
    view.shutdown()


def test_the_per_digit_axis_reads_0_to_100_while_evaluating(qtbot):
    """No bars yet: a fixed percentage scale, not an autorange of nothing (0, -1e-306, -2e-306, ...)."""
    chart = evaluate_widgets.PerClassChart()
    qtbot.addWidget(chart)
    chart.resize(400, 220)
    chart.show()
    qtbot.waitExposed(chart)
    chart.set_accuracy(None)
    item = chart.getPlotItem()
    lo, hi = item.viewRange()[1]
    assert (lo, hi) == (0, 100)
    axis = item.getAxis("left")
    values = [v for _, vs in axis.tickValues(lo, hi, 200) for v in vs]
    assert values and all(0 <= v <= 100 for v in values)
    assert all("e" not in t for t in axis.tickStrings(values, 1, 20))
    chart.set_accuracy(np.linspace(0.9, 1.0, 10))
    assert item.viewRange()[1][0] >= 80
    chart.set_accuracy(None)
    assert tuple(item.viewRange()[1]) == (0, 100)


def test_the_compare_picker_never_offers_the_current_model(view, state, save_model, qtbot, test_set):
    a = save_model("a", 7)
    b = save_model("b", 8)
    show_model(qtbot, view, state, a)
    view.tabs.setCurrentIndex(2)
    assert view.compare_with(b)
    qtbot.waitUntil(lambda: view.comparison is not None, timeout=20_000)
    picker = [view.compare_picker.itemData(i) for i in range(view.compare_picker.count())]
    assert str(Path(b).resolve()) in picker and str(Path(a).resolve()) not in picker
    assert not view.compare_with(a)                      # itself: refused with a message
    assert "current model" in view.compare_summary.text()
    show_model(qtbot, view, state, b)                    # b becomes current: a is offered, b no longer
    picker = [view.compare_picker.itemData(i) for i in range(view.compare_picker.count())]
    assert str(Path(b).resolve()) not in picker
    assert view.compare.other is None or view.compare.other.path.resolve() != Path(b).resolve()


def test_prepare_screenshot_waits_for_the_evaluation(view, state, save_model, qtbot):
    state.open_model(save_model())
    assert view.busy
    view.prepare_screenshot(timeout=20)
    assert not view.busy and view.evaluation is not None
    assert view.selected_cell is not None and view.gallery.count() > 0
