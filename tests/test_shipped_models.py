"""The models shipped in mnist_desktop/models/: present, loadable, the CNN the default, and good.

The accuracy bars here are for the committed 1,000-digit test subset (tests/data), which the shipped
models never trained on; the full 10,000-digit figures are in mnist_desktop/models/README.md.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop import shipped
from mnist_desktop.data import load_dataset
from mnist_desktop.engine.serialize import load
from mnist_desktop.evaluation import evaluate

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]

# name -> the accuracy it must reach on the 1,000-digit test subset
BARS = {"cnn.npz": 0.99, "mlp.npz": 0.98}


@pytest.fixture(scope="module")
def subset():
    return load_dataset("mnist", DATA)


def test_both_models_are_shipped_and_the_cnn_is_the_default():
    names = [p.name for p in shipped.shipped_models()]
    assert names[:1] == ["cnn.npz"] and "mlp.npz" in names
    assert shipped.default_model_path().name == "cnn.npz"


@pytest.mark.parametrize("name", sorted(BARS))
def test_a_shipped_model_is_small_loads_and_scores_above_its_bar(name, subset):
    path = shipped.MODELS_DIR / name
    assert path.stat().st_size < 5_000_000
    net, spec = load(path)
    assert net.n_outputs == 10
    assert spec["test_accuracy"] >= {"cnn.npz": 0.996, "mlp.npz": 0.985}[name]   # full test set, when trained
    result = evaluate(net, subset.x_test, subset.y_test)
    assert result.n == 1000
    assert result.accuracy >= BARS[name], f"{name}: {result.accuracy:.4f} on the test subset"


def test_the_models_readme_gives_each_models_command():
    text = (shipped.MODELS_DIR / "README.md").read_text(encoding="utf-8")
    for name in BARS:
        assert name in text
    assert "mnist-desktop train" in text and "mnist-desktop evaluate" in text


def test_a_built_wheel_carries_the_shipped_models(tmp_path):
    """`pip install .` (not editable) must find the models: they are package data in the wheel. Built
    offline (no build isolation, no index) with the environment's setuptools, as the test extra pins it."""
    source = tmp_path / "src"          # a copy, so the build leaves nothing (build/, egg-info) in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("mnist_desktop", "resources"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", ".*.tmp"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                             "-q", "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = next(tmp_path.glob("mnist_desktop-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in [*BARS, "README.md"]:
        assert f"mnist_desktop/models/{name}" in names
    assert "mnist_desktop/data/replay_digits.npz" in names       # what adapting mixes in (personalize.py)
    # the resources folder travels inside the package, the licence in the metadata
    for path in [shipped.ICON_SVG, shipped.DESKTOP_FILE, *shipped.icon_files(), *shipped.example_drawings().values()]:
        assert f"mnist_desktop/resources/{path.relative_to(shipped.RESOURCES_DIR).as_posix()}" in names
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    metadata = zipfile.ZipFile(wheel).read(meta).decode()
    assert "License-Expression: MIT" in metadata and any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # every package folder of the source is in the wheel (pyproject lists them by hand)
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "mnist_desktop").rglob("__init__.py")}
    for package in packages:
        assert f"{package}/__init__.py" in names, f"{package} is missing from [tool.setuptools] packages"
    # installed from the wheel, the package finds its models and resources inside itself
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    code = ("from mnist_desktop import shipped; print(shipped.RESOURCES_DIR); print(shipped.default_model_path());"
            "print(len(shipped.example_drawings()), len(shipped.icon_files()))")
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.split("\n")
    assert out[0] == str(target / "mnist_desktop" / "resources") and out[1].startswith(str(target))
    assert out[2] == f"10 {len(shipped.icon_files())}"


def test_the_shipped_mlp_imagines_every_digit_so_that_it_reads_it_back():
    """Activation maximisation with the Imagine view's defaults, fed back: each of the ten pictures is
    read as the digit asked for with probability >= 0.9."""
    from mnist_desktop import explain

    net, _ = load(shipped.MODELS_DIR / "mlp.npz")
    for r in explain.imagine_all(net, "maximize"):
        assert r.predicted == r.digit and r.probability >= 0.9, (r.digit, r.probabilities.round(3))


def test_the_shipped_cnn_imagines_every_digit_so_that_it_reads_it_back():
    """Activation maximisation with the defaults (the Imagine view's and `imagine --method maximize`'s):
    each of the ten pictures of the shipped CNN is read as the digit asked for with p >= 0.9."""
    from mnist_desktop import explain

    net, _ = load(shipped.MODELS_DIR / "cnn.npz")
    for r in explain.imagine_all(net, "maximize"):
        assert r.predicted == r.digit and r.probability >= 0.9, (r.digit, r.probabilities.round(3))
        assert r.image.max() == 1.0                  # brightest pixel white: the picture shown is the one read


def test_maximised_images_do_not_depend_on_threads_or_batch():
    """The same image whatever the BLAS / engine thread counts and whichever digits share the batch (the
    view maximises two at a time, the command line ten): float64 work, pixels kept on a grid."""
    from mnist_desktop import explain
    from mnist_desktop.engine import threads

    net, _ = load(shipped.MODELS_DIR / "cnn.npz")
    before = threads.blas_threads(), threads.threads()
    try:
        threads.set_blas_threads(1)
        threads.set_threads(1)
        one = explain.maximize_batch(net, [1, 7], steps=30)
        threads.set_blas_threads(2)
        threads.set_threads(2)
        two = explain.maximize_batch(net, [1, 7], steps=30)
        alone = explain.maximize_batch(net, [7], steps=30)
    finally:
        threads.set_blas_threads(before[0] or 1)
        threads.set_threads(before[1])
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one[1], alone[0])


def test_pickers_label_a_model_file_from_its_spec_as_loading_it_would():
    """state.model_file_label reads only the spec (the Compare and Draw pickers list models without
    decoding their weights) and says what LoadedModel.label says after a full load."""
    from mnist_desktop.app.state import LoadedModel, model_file_label

    for path in shipped.shipped_models():
        assert model_file_label(path) == LoadedModel.from_file(path).label
