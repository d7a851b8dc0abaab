"""Model files: one ``.npz`` holding every array plus a JSON ``spec`` string. Never pickle.

spec = {"format": "mnist-desktop-model", "format_version": 1, "name": ..., "architecture": {...},
        "training": {...}, "test_accuracy": 0.98 | null, "created": ISO date, ...}

``save`` writes atomically (temp file in the same folder, fsync, rename), so a crash or a full disk never
leaves half a model where a good one was. ``load`` validates everything and raises ``ModelFileError``, with
a message a person can act on, for any file that is not a complete, consistent model.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .fileio import atomic_write, new_file_mode  # noqa: F401  (re-exported for older imports)
from .network import Network

FORMAT = "mnist-desktop-model"
FORMAT_VERSION = 1


class ModelFileError(Exception):
    """A model file could not be read: missing, corrupt, truncated, or not a model of ours."""


def model_spec(net: Network, *, name: str = "", training: dict | None = None,
               test_accuracy: float | None = None, **extra) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "architecture": net.architecture(),
        "description": net.describe(),
        "training": training or {},
        "test_accuracy": test_accuracy,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def save(net: Network, path: str | os.PathLike, spec: dict | None = None) -> dict:
    """Write ``net`` (float32) and its spec to ``path`` atomically; returns the spec written."""
    spec = dict(spec) if spec is not None else model_spec(net)
    spec.setdefault("format", FORMAT)
    spec.setdefault("format_version", FORMAT_VERSION)
    spec["architecture"] = net.architecture()
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in net.arrays().items()}
    buf = io.BytesIO()
    np.savez_compressed(buf, spec=np.array(json.dumps(spec)), **arrays)
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return spec


def read_spec(path: str | os.PathLike) -> dict:
    """Only the spec (fast: no weights are decoded)."""
    return _open(path)[0]


def load(path: str | os.PathLike, *, dtype=np.float32) -> tuple[Network, dict]:
    """-> (network, spec). Raises ModelFileError with a readable reason for anything wrong."""
    spec, arrays = _open(path, with_arrays=True)
    try:
        net = Network.from_architecture(spec["architecture"], rng=np.random.default_rng(0), dtype=dtype)
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: the architecture in this model file is not valid: {exc}") from None
    expected = net.arrays()
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ModelFileError(f"{path}: the arrays do not match the architecture "
                             f"(missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'})")
    for k, dst in expected.items():
        a = arrays[k]
        if a.shape != dst.shape:
            raise ModelFileError(f"{path}: array {k!r} has shape {a.shape}, the architecture needs {dst.shape}")
        if a.dtype.kind != "f":
            raise ModelFileError(f"{path}: array {k!r} has type {a.dtype}, expected floating point")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{path}: array {k!r} contains NaN or infinite values")
        dst[...] = a
    return net, spec


def _open(path, with_arrays: bool = False) -> tuple[dict, dict[str, np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        # our own handle, so it is closed even when NumPy fails half-way through a damaged archive
        with open(path, "rb") as fh:
            z = np.load(fh, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{path}: not a model file (a bare .npy array, expected an .npz archive)")
            with z:
                if "spec" not in z.files:
                    raise ModelFileError(f"{path}: not an mnist-desktop model (no 'spec' entry)")
                raw = z["spec"]
                arrays = {k: z[k] for k in z.files if k != "spec"} if with_arrays else {}
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, KeyError) as exc:
        raise ModelFileError(f"{path}: not a readable model file ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # zlib.error and friends from a damaged archive
        raise ModelFileError(f"{path}: the model file is damaged ({type(exc).__name__}: {exc})") from None
    try:
        spec = json.loads(str(raw[()]) if raw.ndim == 0 else "")
    except (json.JSONDecodeError, TypeError, ValueError):
        raise ModelFileError(f"{path}: the model's spec is not valid JSON") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an mnist-desktop model (format is {spec.get('format') if isinstance(spec, dict) else None!r})")
    version = spec.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFileError(f"{path}: model format version {version!r} is not supported by this version "
                             f"(it reads version {FORMAT_VERSION})")
    if not isinstance(spec.get("architecture"), dict):
        raise ModelFileError(f"{path}: the model's spec has no architecture")
    return spec, arrays
