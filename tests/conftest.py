import os

import pytest

# Qt tests run headless: no display on CI.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, monkeypatch):
    """Point the app's QSettings (INI, user scope) at a fresh folder, and its data folder (app_data_dir:
    QStandardPaths reads $XDG_DATA_HOME) at another, so no test reads or writes the user's real settings
    or files. Yields the settings folder (None where PySide6 is not installed)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    try:
        from PySide6.QtCore import QSettings
    except ImportError:  # engine-only environments
        yield None
        return
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(folder))
    yield folder


@pytest.fixture
def make_model(tmp_path):
    """make_model(name="tiny", seed=0) -> path of a small saved 784-16-10 model (no shipped files needed)."""
    import numpy as np

    from mnist_desktop.engine import serialize
    from mnist_desktop.engine.network import Network
    from mnist_desktop.engine.presets import mlp

    def make(name: str = "tiny", seed: int = 0, accuracy: float | None = 0.5) -> "os.PathLike":
        net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(seed))
        path = tmp_path / f"{name}.npz"
        serialize.save(net, path, serialize.model_spec(net, name=name, test_accuracy=accuracy))
        return path

    return make


@pytest.fixture
def no_shipped_models(monkeypatch):
    """Behave as if no model were shipped (the repo may or may not have some)."""
    from mnist_desktop import shipped

    monkeypatch.setattr(shipped, "shipped_models", lambda: [])
    monkeypatch.setattr(shipped, "default_model_path", lambda: None)
