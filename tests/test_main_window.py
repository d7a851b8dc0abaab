"""The main window: views, menus, files through the window, settings, startup fallbacks, run_app."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel

from mnist_desktop import cli
from mnist_desktop.app import main_window as mw
from mnist_desktop.app.main_window import MainWindow, app_settings
from mnist_desktop.app.state import AppState

SEVEN = [[(80, 60), (200, 60), (120, 230)], [(110, 140), (190, 140)]]


@pytest.fixture
def window(qtbot, no_shipped_models):
    w = MainWindow()
    qtbot.addWidget(w)
    return w


def draw_seven(window):
    for stroke in SEVEN:
        window.draw_view.canvas.add_stroke(stroke)


def test_draw_is_the_first_view_and_views_are_one_line_to_add(window):
    assert window.view_keys()[0] == "draw" and window.tabs.currentWidget() is window.draw_view
    before = window.tabs.count()
    extra = window.add_view("extra", "Extra", QLabel("more goes here"))
    assert window.tabs.count() == before + 1 and window.tabs.tabText(before) == "Extra"
    window.show_view("extra")
    assert window.current_view_key() == "extra"
    [entry] = [a for a in window.view_menu.actions() if a.text() == "Extra"]
    assert entry.shortcut().toString() == f"Ctrl+{before + 1}"
    window.show_view("draw")
    entry.trigger()
    assert window.tabs.currentWidget() is extra
    with pytest.raises(KeyError, match="available: draw, .*extra"):
        window.show_view("nonsense")
    with pytest.raises(ValueError):
        window.add_view("extra", "Extra again", QLabel())


def test_menu_shortcuts(window):
    shortcuts = {a.text(): [s.toString() for s in a.shortcuts()]
                 for a in (window.open_drawing_action, window.save_drawing_action, window.open_image_action,
                           window.open_model_action, window.quit_action, window.undo_action, window.clear_action)}
    assert shortcuts == {"Open drawing…": ["Ctrl+O"], "Save drawing…": ["Ctrl+S"], "Open image…": ["Ctrl+I"],
                         "Open model…": ["Ctrl+M"], "Quit": ["Ctrl+Q"], "Undo": ["Ctrl+Z"], "Clear": ["Del", "Esc"]}


def test_edit_actions_drive_the_canvas(window):
    canvas = window.draw_view.canvas
    assert not window.undo_action.isEnabled() and not window.clear_action.isEnabled()
    draw_seven(window)
    assert window.undo_action.isEnabled() and window.clear_action.isEnabled()
    window.clear_action.trigger()
    assert canvas.is_blank()
    window.undo_action.trigger()
    assert len(canvas.strokes()) == 2


def test_status_bar_and_about_show_the_model(window, make_model):
    assert window.model_label.text() == "No model loaded"
    window.open_model(make_model("tiny", accuracy=0.9234))
    text = window.model_label.text()
    assert "tiny" in text and "784-16-10 relu" in text and "92.3% on MNIST test" in text
    about = window.about_text()
    assert "tiny" in about and "92.3%" in about and "12,730 parameters" in about


def test_an_unreadable_model_leaves_the_old_model_working(window, make_model, tmp_path):
    good = window.open_model(make_model("tiny"))
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"\x00" * 100)
    assert window.open_model(bad) is None
    assert window.state.model is good
    assert "broken.npz" in window.draw_view.banner.text
    draw_seven(window)
    assert window.draw_view.refresh_now().probs is not None


def test_drawing_save_and_open_round_trip(window, tmp_path):
    draw_seven(window)
    window.draw_view.set_pen_width(22)
    path = tmp_path / "seven.json"
    assert window.save_drawing(path)
    before = window.draw_view.canvas.pixels()
    window.draw_view.clear()
    window.draw_view.set_pen_width(10)
    assert window.open_drawing(path)
    canvas = window.draw_view.canvas
    assert canvas.strokes() == [[tuple(map(float, p)) for p in s] for s in SEVEN]
    assert canvas.pen_width == 22 and window.draw_view.pen_slider.value() == 22
    np.testing.assert_array_equal(canvas.pixels(), before)


def test_saving_a_blank_canvas_writes_nothing(window, tmp_path):
    path = tmp_path / "empty.json"
    assert not window.save_drawing(path)
    assert not path.exists() and window.draw_view.banner.level == "warning"


def test_opening_a_broken_drawing_keeps_the_canvas(window, tmp_path):
    draw_seven(window)
    path = tmp_path / "broken.json"
    path.write_text("{ not json")
    assert not window.open_drawing(path)
    assert window.draw_view.banner.level == "error" and len(window.draw_view.canvas.strokes()) == 2


def test_opening_a_text_file_as_an_image_is_an_error_not_a_crash(window, tmp_path):
    draw_seven(window)
    path = tmp_path / "readme.txt"
    path.write_text("not an image\n" * 10)
    assert not window.open_image(path)
    assert window.draw_view.banner.level == "error" and "readme.txt" in window.draw_view.banner.text
    assert len(window.draw_view.canvas.strokes()) == 2


def test_settings_persist_pen_width_and_last_model(qtbot, make_model, no_shipped_models):
    model = make_model("remembered")
    first = MainWindow()
    qtbot.addWidget(first)
    first.open_model(model)
    first.draw_view.set_pen_width(27)
    first.resize(780, 690)   # the offscreen screen is 800 wide
    first.close()
    assert app_settings().value(mw.K_PEN) in (27, "27")      # written to the isolated INI file
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.draw_view.canvas.pen_width == 27
    assert (second.width(), second.height()) == (780, 690)
    loaded = second.load_startup_model()
    assert loaded.name == "remembered" and second.state.model is loaded
    assert second.draw_view.banner.isHidden()


def test_the_saliency_toggle_is_remembered(qtbot, make_model, no_shipped_models):
    first = MainWindow()
    qtbot.addWidget(first)
    assert not first.draw_view.saliency_visible             # off by default
    first.draw_view.saliency_button.click()
    assert app_settings().value(mw.K_SALIENCY) in (True, "true")
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.draw_view.saliency_visible
    second.open_model(make_model("tiny"))
    draw_seven(second)
    second.draw_view.refresh_now()
    assert second.draw_view.canvas.overlay() is not None
    second.draw_view.set_saliency_visible(False)
    third = MainWindow(persist=False)                        # screenshots read it, never write it
    qtbot.addWidget(third)
    assert not third.draw_view.saliency_visible
    third.draw_view.set_saliency_visible(True)
    assert app_settings().value(mw.K_SALIENCY) in (False, "false")


def test_the_saliency_map_choice_is_remembered(qtbot, no_shipped_models):
    first = MainWindow()
    qtbot.addWidget(first)
    assert first.draw_view.attribution_method == "strokes"   # the default
    first.draw_view.set_attribution_method("integrated")
    assert app_settings().value(mw.K_ATTRIBUTION) == "integrated"
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.draw_view.attribution_method == "integrated"
    third = MainWindow(persist=False)
    qtbot.addWidget(third)
    third.draw_view.set_attribution_method("gradient")
    assert app_settings().value(mw.K_ATTRIBUTION) == "integrated"


def test_a_broken_last_model_setting_does_not_stop_the_app(qtbot, tmp_path, make_model, monkeypatch):
    settings = app_settings()
    settings.setValue(mw.K_LAST_MODEL, str(tmp_path / "gone.npz"))
    settings.setValue(mw.K_PEN, "not a number")
    settings.sync()
    fallback = make_model("fallback")
    monkeypatch.setattr(mw.shipped, "default_model_path", lambda: fallback)
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.draw_view.canvas.pen_width == 18      # default pen, bad value ignored
    assert w.load_startup_model().name == "fallback"
    assert "the last model used" in w.draw_view.banner.text and "Using fallback" in w.draw_view.banner.text
    # and with no shipped model either: no model, a clear message, the canvas still works
    monkeypatch.setattr(mw.shipped, "default_model_path", lambda: None)
    settings.setValue(mw.K_LAST_MODEL, str(tmp_path / "gone.npz"))   # w remembered the fallback
    w2 = MainWindow(AppState())
    qtbot.addWidget(w2)
    assert w2.load_startup_model() is None
    assert "No model is loaded" in w2.draw_view.banner.text
    draw_seven(w2)
    assert w2.draw_view.refresh_now().pre is not None


def test_screenshot_mode_writes_a_png_and_leaves_settings_alone(tmp_path, make_model, qapp, capsys,
                                                                no_shipped_models):
    out = tmp_path / "shot.png"
    code = cli.main(["--model", str(make_model("tiny")), "--view", "draw", "--screenshot", str(out),
                     "--size", "960x700"])
    assert code == 0
    img = QImage(str(out))
    assert not img.isNull() and (img.width(), img.height()) == (960, 700)
    assert app_settings().value(mw.K_LAST_MODEL) is None     # a screenshot is not a session
    assert cli.main(["--view", "nonsense", "--screenshot", str(tmp_path / "x.png")]) == 2
    assert "unknown view 'nonsense'" in capsys.readouterr().err
    assert cli.main(["--screenshot", str(tmp_path / "y.png"), "--size", "huge"]) == 2


def test_screenshot_with_a_drawing_shows_it(tmp_path, make_model, qapp, no_shipped_models):
    from mnist_desktop.drawing import Drawing, write_drawing

    drawing = tmp_path / "one.json"
    write_drawing(drawing, Drawing(280, 280, 18.0, [[(140.0, 40.0), (140.0, 240.0)]]))
    blank, drawn = tmp_path / "blank.png", tmp_path / "drawn.png"
    assert cli.main(["--model", str(make_model("tiny")), "--screenshot", str(blank)]) == 0
    assert cli.main(["--model", str(make_model("tiny")), "--screenshot", str(drawn), "--drawing", str(drawing)]) == 0
    assert QImage(str(blank)) != QImage(str(drawn))
    # a drawing that cannot be read is reported in the window, not a crash
    assert cli.main(["--screenshot", str(tmp_path / "z.png"), "--drawing", str(tmp_path / "missing.json")]) == 0


def test_startup_mark_is_printed_after_the_window_is_shown(qapp, capsys, monkeypatch, no_shipped_models):
    monkeypatch.setenv("MNIST_DESKTOP_STARTUP_MARK", "1")
    assert cli.main([]) == 0
    assert mw.STARTUP_MARK in capsys.readouterr().out


def test_void_qt_calls_do_not_leak_references_to_none():
    """PySide6 6.12.0 on Python 3.11 drops a reference to None on every Qt call returning nothing and
    aborts the interpreter after a few thousand ("none_dealloc"); pyproject pins <6.12. Run in a
    subprocess so an abort fails this test instead of killing the test run."""
    code = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtGui import QImage, QPainter
        from PySide6.QtWidgets import QApplication, QWidget
        app = QApplication([])
        img = QImage(64, 64, QImage.Format_ARGB32)
        widget = QWidget()
        before = sys.getrefcount(None)
        painter = QPainter(img)
        for i in range(10_000):
            painter.drawLine(0, 0, i % 64, 63)   # returns None
            widget.update()                       # returns None
        painter.end()
        after = sys.getrefcount(None)
        print(before, after)
        assert after >= before - 100, (before, after)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout} {result.stderr[-2000:]}"


def _launch_as_the_console_script(env_extra: dict) -> str:
    """Start the window the way the installed `mnist-desktop` script does (pyproject's [project.scripts]
    entry point: the CLI, which loads NumPy before it imports Qt), offscreen, until it is shown; its stdout."""
    import os
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    entry = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]["mnist-desktop"]
    module, func = entry.split(":")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                            "MNIST_DESKTOP_THREADS")}
    env.update(QT_QPA_PLATFORM="offscreen", MNIST_DESKTOP_STARTUP_MARK="1",
               PYTHONPATH=os.pathsep.join([str(root), env.get("PYTHONPATH", "")]), **env_extra)
    code = f"import sys; from {module} import {func}; sys.argv[0] = 'mnist-desktop'; sys.exit({func}())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert mw.STARTUP_MARK in out.stdout
    return out.stdout


@pytest.mark.parametrize("env, blas, engine", [({}, "1", None), ({"OPENBLAS_NUM_THREADS": "2"}, "2", None),
                                               ({"MNIST_DESKTOP_THREADS": "3"}, "1", "3")])
def test_the_launched_window_runs_the_blas_pool_the_app_intends(env, blas, engine):
    """The launcher loads NumPy before the window exists, so the BLAS pool is set at run time; the size is
    OpenBLAS's own (threadpoolctl asks the library), not an environment variable's text. One thread
    unless the user chose; the engine's own threads default to the core count (at most 4)."""
    import os

    import numpy  # noqa: F401
    from threadpoolctl import threadpool_info

    if not any(p["user_api"] == "blas" and p["internal_api"] == "openblas" for p in threadpool_info()):
        pytest.skip("NumPy is not linked to OpenBLAS here")
    out = _launch_as_the_console_script(env)
    expected_engine = engine or str(max(1, min(os.cpu_count() or 1, 4)))
    assert f"mnist-desktop: BLAS threads {blas}, engine threads {expected_engine}" in out


def test_screenshot_of_the_evaluate_view_waits_for_its_evaluation(tmp_path, make_model, qapp, monkeypatch,
                                                                  no_shipped_models):
    """run_app calls the shown view's prepare_screenshot before grabbing the window."""
    from pathlib import Path

    from mnist_desktop.app.evaluate_view import EvaluateView

    monkeypatch.setenv("MNIST_DIR", str(Path(__file__).parent / "data"))
    seen = []
    original = EvaluateView.prepare_screenshot

    def spy(self, *a, **kw):
        original(self, *a, **kw)
        seen.append((self.evaluation is not None, self.gallery.count() > 0))

    monkeypatch.setattr(EvaluateView, "prepare_screenshot", spy)
    out = tmp_path / "evaluate.png"
    assert cli.main(["--model", str(make_model("tiny")), "--view", "evaluate", "--screenshot", str(out)]) == 0
    assert seen == [(True, True)] and not QImage(str(out)).isNull()


def test_the_evaluate_view_is_registered_after_the_others(window):
    keys = window.view_keys()
    assert "evaluate" in keys and keys.index("evaluate") > keys.index("imagine")
