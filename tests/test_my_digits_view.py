"""Teach it your handwriting in the window: It's a… -> My digits -> Adapt -> the adapted model reads it ->
Back to the original. The app data folder is a temp folder (conftest sets XDG_DATA_HOME)."""

import math
import sys

import pytest
from PySide6.QtCore import Qt

from mnist_desktop import personalize
from mnist_desktop.app.main_window import MainWindow
from mnist_desktop.app.state import app_data_dir
from mnist_desktop.confidence import calibration_path
from mnist_desktop.drawing import Drawing, read_drawing
from mnist_desktop.engine.serialize import load
from mnist_desktop.shipped import EXAMPLES_DIR, resolve_model


def turned(digit: int, degrees: float, squeeze: float = 1.0) -> Drawing:
    """An example drawing of ``digit`` turned ``degrees`` about the canvas centre, its width scaled."""
    d = read_drawing(EXAMPLES_DIR / f"digit-{digit}.json")
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    cx, cy = d.width / 2, d.height / 2
    strokes = [[(cx + squeeze * ((x - cx) * c - (y - cy) * s), cy + (x - cx) * s + (y - cy) * c) for x, y in st]
               for st in d.strokes]
    return Drawing(d.width, d.height, d.pen_width, strokes)


@pytest.fixture
def window(qtbot):
    w = MainWindow(persist=False)
    qtbot.addWidget(w)
    w.open_model(resolve_model("mlp"))      # the fast shipped model
    # fewer steps and variants than the app's defaults (measured in benchmarks/personalize.py): the same
    # code, a quicker test
    w.my_digits_view.settings = personalize.AdaptSettings(steps=50, copies=8, replay=400)
    return w


def read(window, drawing) -> int | None:
    window.draw_view.canvas.set_drawing(drawing)
    return window.draw_view.refresh_now().digit


def misread(window) -> tuple[int, float]:
    """A digit and an angle at which the shipped MLP reads the turned example drawing wrong."""
    for angle in (50, 55, 60, 65, 70, 45, 40):
        for digit in (7, 1, 4, 2, 9, 5, 3):
            if read(window, turned(digit, angle)) != digit:
                return digit, angle
    pytest.fail("no misread drawing found")


def test_the_whole_loop_draw_correct_collect_adapt_read_back(window, qtbot):
    view, digits = window.draw_view, window.my_digits_view
    base = window.state.model
    switch = sys.getswitchinterval()
    digit, angle = misread(window)
    wrong = turned(digit, angle)
    # correct it: "It's a <digit>" saves it into My digits and clears the canvas
    read(window, wrong)
    qtbot.mouseClick(view.label_row.buttons[digit], Qt.LeftButton)
    assert view.canvas.is_blank()
    assert "Added to My digits" in view.banner.text
    # two more in the same style, and the other digits as they are
    for a in (angle - 4, angle + 4):
        read(window, turned(digit, a))
        qtbot.mouseClick(view.label_row.buttons[digit], Qt.LeftButton)
    for d in range(10):
        if d != digit:
            read(window, turned(d, 0))
            qtbot.mouseClick(view.label_row.buttons[d], Qt.LeftButton)
    folder = app_data_dir() / "my-digits"
    assert digits.collection.folder == folder
    assert digits.collection.counts()[digit] == 3 and sum(digits.collection.counts()) == 12
    assert digits.strips[digit].count() == 3
    assert view.label_row.count_label.text() == "12 in My digits"
    # adapt: in the background, then selected at once
    window.show_view("digits")
    with qtbot.waitSignal(digits.adapted, timeout=60_000):
        qtbot.mouseClick(digits.adapt_button, Qt.LeftButton)
        assert digits.cancel_button.isEnabled()
    adapted = window.state.model
    assert adapted is not base and personalize.is_adapted(adapted.spec)
    assert adapted.path.parent == app_data_dir() / "adapted-models"
    assert adapted.spec["adaptation"]["examples"] == 12
    assert adapted.spec["adaptation"]["base"]["name"] == base.name
    assert "-mine" in view.model_picker.currentText()
    assert read(window, wrong) == digit                 # the corrected digit is read right now
    # the honest before/after arrives after
    with qtbot.waitSignal(digits.checked, timeout=120_000):
        pass
    assert "before" in digits.own_label.text() and "after" in digits.own_label.text()
    assert "MNIST test" in digits.mnist_label.text()
    # the adapted model got its own calibration, and the Draw view uses it
    checked = window.state.model
    assert checked.path == adapted.path and calibration_path(adapted.path).is_file()
    assert view.refresh_now().verdict.calibrated
    assert load(adapted.path)[1]["adaptation"]["check"]["own_digits"]["n"] == 12
    assert sys.getswitchinterval() == switch            # set short only while the jobs ran
    # back to the original: one click
    qtbot.mouseClick(digits.back_button, Qt.LeftButton)
    assert window.state.model.path == base.path
    assert not personalize.is_adapted(window.state.model.spec)


def test_re_adapting_starts_from_the_base_model(window, qtbot):
    digits = window.my_digits_view
    for d in range(10):
        digits.collect(turned(d, 5), d)
    base = window.state.model
    with qtbot.waitSignal(digits.adapted, timeout=60_000):
        digits.start_adapt()
    digits.collect(turned(3, -5), 3)
    digits.runner.cancel("check")
    with qtbot.waitSignal(digits.adapted, timeout=60_000):
        digits.start_adapt()
    spec = window.state.model.spec["adaptation"]
    assert spec["examples"] == 11 and spec["base"]["path"] == str(base.path)


def test_keys_0_to_9_are_the_row_s_shortcuts(window, qtbot):
    """Keys 0-9 belong to the row (so they act only while the Draw view shows) and collect like a click."""
    from PySide6.QtGui import QShortcut

    row = window.draw_view.label_row
    shortcuts = {s.key().toString(): s for s in row.findChildren(QShortcut)}
    assert sorted(shortcuts) == [str(d) for d in range(10)]
    assert all(s.parent() is row for s in shortcuts.values())
    read(window, turned(4, 0))
    shortcuts["4"].activated.emit()
    assert window.my_digits_view.collection.counts()[4] == 1
    assert window.draw_view.canvas.is_blank()


def test_delete_and_undo_in_my_digits(window, qtbot):
    digits = window.my_digits_view
    for d in (1, 1, 2):
        digits.collect(turned(d, 0), d)
    digits.strips[1].item(0).setSelected(True)
    assert digits.delete_button.isEnabled()
    qtbot.mouseClick(digits.delete_button, Qt.LeftButton)
    assert digits.collection.counts()[1] == 1
    qtbot.mouseClick(digits.undo_button, Qt.LeftButton)
    assert digits.collection.counts()[1] == 2 and digits.strips[1].count() == 2


def test_an_opened_image_or_a_blank_canvas_is_not_collected(window, qtbot):
    view = window.draw_view
    qtbot.mouseClick(view.label_row.buttons[3], Qt.LeftButton)
    assert "Draw a digit first" in view.banner.text
    assert sum(window.my_digits_view.collection.counts()) == 0


def test_cancel_saves_nothing(window, qtbot):
    digits = window.my_digits_view
    for d in range(10):
        digits.collect(turned(d, 0), d)
    digits.start_adapt()
    digits.cancel_adapt()
    qtbot.waitUntil(lambda: not any(j.running for j in digits.runner._live), timeout=30_000)
    assert not (app_data_dir() / "adapted-models").exists() or not list((app_data_dir() / "adapted-models").glob("*.npz"))
    assert not personalize.is_adapted(window.state.model.spec)


def test_collecting_prepares_the_replay_features_so_adapt_computes_only_the_user_s_digits(window, qtbot):
    """The first "It's a…" starts computing, in the background, what adapting the current model needs of
    the replay digits; Adapt then computes the trunk features of the user's digits only."""
    personalize.clear_replay_cache()
    digits = window.my_digits_view
    digits.collect(turned(1, 0), 1)
    assert digits.preparer.current("prepare") is not None
    assert not digits.prepare()                           # one at a time for the same model
    qtbot.waitUntil(lambda: digits.preparer.current("prepare") is None, timeout=30_000)
    assert personalize.is_prepared(personalize.replay_key(window.state.model.net, personalize.load_replay()))
    digits.collect(turned(7, 0), 7)
    qtbot.waitUntil(lambda: digits.preparer.current("prepare") is None, timeout=30_000)
    totals = []
    digits.runner.progressed.connect(lambda job, values: totals.append(values) if values[0] == "features" else None)
    with qtbot.waitSignal(digits.adapted, timeout=60_000):
        assert digits.start_adapt()
    assert totals and {total for _, _, total in totals} == {2 * digits.settings.copies}


def test_a_window_with_digits_prepares_its_model_after_start_up(window, qtbot):
    """With digits in My digits, the model is prepared a little after it is opened (PREPARE_DELAY_MS), the
    view unseen: by the time the user gets to Adapt, the click computes only the user's digits."""
    from mnist_desktop.app import my_digits_view

    digits = window.my_digits_view
    digits.collect(turned(4, 0), 4)
    qtbot.waitUntil(lambda: digits.preparer.current("prepare") is None, timeout=30_000)
    personalize.clear_replay_cache()
    window.open_model(resolve_model("cnn"))
    assert not digits.isVisible() and digits.preparer.current("prepare") is None
    qtbot.waitUntil(lambda: digits.preparer.current("prepare") is not None,
                    timeout=my_digits_view.PREPARE_DELAY_MS + 5000)
    qtbot.waitUntil(lambda: digits.preparer.current("prepare") is None, timeout=60_000)
    assert personalize.is_prepared(personalize.replay_key(window.state.model.net, personalize.load_replay()))


def test_a_damaged_replay_file_is_an_error_message_and_saves_nothing(window, qtbot, tmp_path, monkeypatch):
    """The package's replay digits cut short (a broken install): the background preparation fails
    quietly, Adapt says why in the banner, no model is written and the current one stays in use."""
    whole = personalize.REPLAY_FILE.read_bytes()
    broken = tmp_path / "replay_digits.npz"
    broken.write_bytes(whole[:len(whole) // 2])
    monkeypatch.setattr(personalize.load_replay, "__defaults__", (broken,))
    personalize.clear_replay_cache()
    digits = window.my_digits_view
    base = window.state.model
    for d in range(10):
        digits.collect(turned(d, 0), d)
    qtbot.waitUntil(lambda: digits.preparer.current("prepare") is None, timeout=30_000)
    assert digits.start_adapt()
    qtbot.waitUntil(lambda: digits.runner.current("adapt") is None, timeout=30_000)
    assert "Adapting failed" in digits.banner.text and "replay digits cannot be read" in digits.banner.text
    assert window.state.model is base
    folder = app_data_dir() / "adapted-models"
    assert not folder.exists() or not list(folder.glob("*.npz"))
