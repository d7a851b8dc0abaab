"""Shipped models by name, everywhere a model is asked for: `--model cnn`, `--model mlp`, `evaluate`
with no model, from any folder (the README's commands work for an installed copy, not only in the repo)."""

import json
from pathlib import Path

import pytest

from mnist_desktop import cli, shipped
from mnist_desktop.engine.serialize import ModelFileError

DATA = str(Path(__file__).parent / "data")


@pytest.fixture(autouse=True)
def elsewhere(tmp_path, monkeypatch):
    """Run from a folder that has no models/ and no mnist_desktop/ (as an installed user would)."""
    monkeypatch.chdir(tmp_path)


def test_names_resolve_to_the_shipped_files_in_any_case_with_or_without_npz():
    assert shipped.shipped_model_names()[:1] == ["cnn"] and "mlp" in shipped.shipped_model_names()
    for text in ("cnn", "CNN", "cnn.npz"):
        assert shipped.resolve_model(text) == shipped.MODELS_DIR / "cnn.npz"
    assert shipped.resolve_model("mlp") == shipped.MODELS_DIR / "mlp.npz"
    assert shipped.resolve_model(None) == shipped.default_model_path()


def test_a_file_of_that_name_in_the_current_folder_wins(tmp_path, make_model):
    mine = make_model("cnn")                      # tmp_path/cnn.npz, the current folder
    assert shipped.resolve_model("cnn.npz") == Path("cnn.npz") and Path("cnn.npz").resolve() == mine
    assert shipped.resolve_model(str(mine)) == mine


def test_an_unknown_name_says_which_models_are_shipped():
    with pytest.raises(ModelFileError, match=r"cnnn: no such model file.*shipped models: cnn, mlp"):
        shipped.resolve_model("cnnn")


def test_evaluate_defaults_to_the_shipped_cnn_and_takes_names(capsys):
    assert cli.main(["evaluate", "--data", DATA, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert Path(out["model"]) == shipped.MODELS_DIR / "cnn.npz" and out["n"] == 1000 and out["accuracy"] > 0.98
    assert cli.main(["evaluate", "mlp", "--data", DATA]) == 0
    assert "accuracy 9" in capsys.readouterr().out
    assert cli.main(["evaluate", "nosuch", "--data", DATA]) == 2
    err = capsys.readouterr().err
    assert "nosuch: no such model file" in err and "cnn, mlp" in err and "Traceback" not in err


def test_predict_and_imagine_take_model_names(tmp_path, capsys):
    seven = shipped.example_drawings()[7]
    assert cli.main(["predict", str(seven), "--model", "mlp", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digit"] == 7
    assert cli.main(["imagine", "3", "--model", "mlp", "--out", str(tmp_path / "three.png")]) == 0
    assert "the network reads the imagined 3 as" in capsys.readouterr().out
    assert cli.main(["--model", "mlp", "imagine", "0", "--out", str(tmp_path / "zero.png")]) == 0
    assert (tmp_path / "three.png").is_file() and (tmp_path / "zero.png").is_file()


def test_the_window_opens_a_shipped_model_by_name(qtbot):
    from mnist_desktop.app.main_window import MainWindow

    w = MainWindow(persist=False)
    qtbot.addWidget(w)
    loaded = w.load_startup_model("mlp")
    assert loaded is not None and loaded.path == (shipped.MODELS_DIR / "mlp.npz").resolve()
    assert not w.draw_view.banner.isVisible() or not w.draw_view.banner.text
    w2 = MainWindow(persist=False)
    qtbot.addWidget(w2)
    w2.load_startup_model("nosuch")                     # falls back to the default, and says so
    assert w2.state.model is not None and w2.state.model.path.name == "cnn.npz"
    assert "nosuch: no such model file" in w2.draw_view.banner.text
