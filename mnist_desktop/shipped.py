"""Where the shipped models live (inside the package, so a wheel install finds them too)."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "cnn.npz"
FALLBACK_MODELS = ("cnn.npz", "mlp.npz")


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
