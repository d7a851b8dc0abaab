"""What ships with the app: the trained models and the resources (icon, desktop entry, example drawings).

Both are found beside the package, so a wheel install finds them too:

    mnist_desktop/models/       cnn.npz (the default), mlp.npz, README.md
    resources/                  in the checkout; mnist_desktop/resources/ inside the wheel
        mnist-desktop.svg       the application icon; icons/mnist-desktop-<N>.png its PNG sizes
        mnist-desktop.desktop   the freedesktop menu entry
        examples/digit-<d>.json one drawing of each digit (File › Try an example)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
MODELS_DIR = PACKAGE_DIR / "models"
DEFAULT_MODEL = "cnn.npz"
FALLBACK_MODELS = ("cnn.npz", "mlp.npz")


def _resources_dir() -> Path:
    """mnist_desktop/resources in an installed wheel, else the checkout's top-level resources/."""
    for folder in (PACKAGE_DIR / "resources", PACKAGE_DIR.parent / "resources"):
        if (folder / "mnist-desktop.svg").is_file():
            return folder
    return PACKAGE_DIR.parent / "resources"


RESOURCES_DIR = _resources_dir()
ICON_SVG = RESOURCES_DIR / "mnist-desktop.svg"
DESKTOP_FILE = RESOURCES_DIR / "mnist-desktop.desktop"
EXAMPLES_DIR = RESOURCES_DIR / "examples"


def shipped_models() -> list[Path]:
    """The .npz files shipped with the app, default first."""
    found = sorted(MODELS_DIR.glob("*.npz"), key=lambda p: (p.name != DEFAULT_MODEL, p.name))
    return [p for p in found if p.is_file()]


def default_model_path() -> Path | None:
    """models/cnn.npz, else models/mlp.npz, else any shipped model; None if there is none."""
    for name in FALLBACK_MODELS:
        if (MODELS_DIR / name).is_file():
            return MODELS_DIR / name
    models = shipped_models()
    return models[0] if models else None


def shipped_model_names() -> list[str]:
    """The names a shipped model answers to on the command line: ['cnn', 'mlp'] (default first)."""
    return [p.stem for p in shipped_models()]


def resolve_model(text: str | os.PathLike | None) -> Path:
    """The model file a user asked for: None -> the shipped default; an existing file -> that file;
    else the name of a shipped model ('cnn', 'mlp', 'CNN.npz'), wherever the package is installed.

    A file in the current folder wins over a shipped model of the same name. Raises ModelFileError
    (the loader's error, so callers catch one type) naming the shipped models when nothing matches."""
    from mnist_desktop.engine.serialize import ModelFileError

    if text is None or str(text) == "":
        path = default_model_path()
        if path is None:
            raise ModelFileError(f"no model given and no shipped model found in {MODELS_DIR}; "
                                 "pass a model file (--model FILE; train one with `mnist-desktop train`)")
        return path
    path = Path(text).expanduser()
    if path.is_file():
        return path
    name = str(text).strip().lower()
    name = name[:-4] if name.endswith(".npz") else name
    for candidate in shipped_models():
        if candidate.stem.lower() == name:
            return candidate
    names = shipped_model_names()
    known = f"shipped models: {', '.join(names)}" if names else "no model is shipped with this copy"
    raise ModelFileError(f"{text}: no such model file, and not the name of a shipped model ({known})")


def icon_files() -> list[Path]:
    """The application icon: the SVG, then its PNG sizes from small to large (those present)."""
    pngs = sorted((RESOURCES_DIR / "icons").glob("mnist-desktop-*.png"),
                  key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    return [p for p in [ICON_SVG, *pngs] if p.is_file()]


def example_drawings() -> dict[int, Path]:
    """digit -> the shipped example drawing of it (File › Try an example), in digit order."""
    found = {}
    for path in sorted(EXAMPLES_DIR.glob("digit-*.json")):
        m = re.fullmatch(r"digit-(\d)", path.stem)
        if m:
            found[int(m.group(1))] = path
    return found
