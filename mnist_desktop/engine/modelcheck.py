"""Checks on a model file's architecture before anything is built or allocated.

``check_architecture(arch)`` walks the layers with plain Python integers, so a spec that asks for
Infinity units, a 0-filter convolution, a 10^9-unit layer or a reshape to (-1, -784) is refused with a
readable reason (ValueError) instead of an OverflowError, a ZeroDivisionError or "Unable to allocate
5.70 TiB" from NumPy. It returns the parameter count and the largest per-example activation.

    n_params, widest = check_architecture(spec["architecture"])     # ValueError("layer 2 (dense): ...")
    check_json_depth(spec)                                           # ValueError if nested absurdly deep
"""

from __future__ import annotations

import math

from .layers import LAYER_TYPES

# Far beyond any network one trains on MNIST on a laptop (the shipped CNN has ~0.3 M parameters, a wide
# 784-2048-2048-10 MLP 5.8 M), far below what would make the app slow or memory-hungry.
MAX_LAYERS = 100
MAX_INPUT_ELEMENTS = 1 << 20          # per example
MAX_SIDE = 4096                       # any one dimension of the input or a reshape
MAX_UNITS = 16_384
MAX_FILTERS = 1024
MAX_KERNEL = 31
MAX_POOL = 32
MAX_PARAMS = 10_000_000               # 40 MB of float32
MAX_ACTIVATION = 1 << 20              # floats per example after any one layer
MAX_JSON_DEPTH = 32

_ALLOWED = {                          # the arguments each layer type takes
    "dense": {"units", "init"},
    "conv2d": {"filters", "kernel", "padding", "init"},
    "maxpool2d": {"size"},
    "dropout": {"p"},
    "batchnorm": {"momentum", "eps"},
    "reshape": {"shape"},
}


def _int(value, what: str, lo: int, hi: int) -> int:
    """A whole number lo..hi (JSON 16.0 is accepted as 16; true, "16", 1e300, Infinity are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a whole number, got {_short(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"{what} must be a whole number, got {_short(value)}")
        value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{what} is {value:,}; it must be between {lo:,} and {hi:,}")
    return value


def _float(value, what: str, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {_short(value)}")
    value = float(value)
    ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        lb, hb = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{what} is {value!r}; it must be a finite number in {lb}{lo:g}, {hi:g}{hb}")
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _shape(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 3:
        raise ValueError(f"{what} must be a list of 1 to 3 positive sizes, got {_short(value)}")
    shape = tuple(_int(v, f"{what}[{i}]", 1, MAX_SIDE) for i, v in enumerate(value))
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise ValueError(f"{what} {list(shape)} has {math.prod(shape):,} elements (at most {MAX_INPUT_ELEMENTS:,})")
    return shape


def check_architecture(arch) -> tuple[int, int]:
    """Validate ``{"input_shape": [...], "loss": ..., "layers": [...]}`` without allocating anything.

    Returns (parameter count, largest per-example activation). ValueError naming the layer and the
    problem for anything a Network could not be built from, or would be absurdly large."""
    if not isinstance(arch, dict):
        raise ValueError(f"the architecture must be an object, got {type(arch).__name__}")
    if "input_shape" not in arch or "layers" not in arch:
        raise ValueError("the architecture needs 'input_shape' and 'layers'")
    loss = arch.get("loss", "ce")
    if not isinstance(loss, str):
        raise ValueError(f"loss must be a name, got {_short(loss)}")
    shape = _shape(arch["input_shape"], "input_shape")
    layers = arch["layers"]
    if not isinstance(layers, list) or not layers:
        raise ValueError("layers must be a non-empty list")
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"{len(layers):,} layers is more than a model can have ({MAX_LAYERS})")
    params = 0
    widest = math.prod(shape)
    for i, entry in enumerate(layers):
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise ValueError(f"layer {i} must be an object with a 'type' name, got {_short(entry)}")
        kind = entry["type"]
        where = f"layer {i} ({kind})"
        if kind not in LAYER_TYPES:
            raise ValueError(f"{where}: unknown layer type (known: {', '.join(sorted(LAYER_TYPES))})")
        extra = set(entry) - {"type"} - _ALLOWED.get(kind, set())
        if extra:
            raise ValueError(f"{where}: unexpected setting {', '.join(sorted(extra))}")
        if "init" in entry and not isinstance(entry["init"], str):
            raise ValueError(f"{where}: init must be a name, got {_short(entry['init'])}")
        added, shape = _layer_step(kind, entry, where, shape)
        params += added
        if params > MAX_PARAMS:
            raise ValueError(f"{where}: the model would have more than {MAX_PARAMS:,} parameters "
                             f"({params:,} so far): too big for this app")
        widest = max(widest, math.prod(shape))
        if widest > MAX_ACTIVATION:
            raise ValueError(f"{where}: its output {shape} has {math.prod(shape):,} values per image "
                             f"(at most {MAX_ACTIVATION:,})")
    if len(shape) != 1:
        raise ValueError(f"the last layer must give a flat output, got per-example shape {shape}")
    return params, widest


def _layer_step(kind: str, entry: dict, where: str, shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """One layer's own settings checked: (its parameter count, its per-example output shape)."""
    added = 0
    if kind == "dense":
        units = _int(entry.get("units"), f"{where}: units", 1, MAX_UNITS)
        if len(shape) != 1:
            raise ValueError(f"{where}: expects flat input, got per-example shape {shape}; add a flatten")
        added = shape[0] * units + units
        shape = (units,)
    elif kind == "conv2d":
        filters = _int(entry.get("filters"), f"{where}: filters", 1, MAX_FILTERS)
        k = _int(entry.get("kernel", 5), f"{where}: kernel", 1, MAX_KERNEL)
        padding = entry.get("padding", "valid")
        if padding not in ("valid", "same"):
            raise ValueError(f"{where}: padding must be 'valid' or 'same', got {_short(padding)}")
        if padding == "same" and k % 2 == 0:
            raise ValueError(f"{where}: an even kernel ({k}) cannot keep the size with padding 'same'")
        if len(shape) != 3:
            raise ValueError(f"{where}: expects (H, W, C) input, got {shape}; add a reshape")
        h, w, c = shape
        pad = (k - 1) // 2 if padding == "same" else 0
        ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"{where}: a {k}x{k} kernel does not fit a {h}x{w} input")
        added = k * k * c * filters + filters
        shape = (ho, wo, filters)
    elif kind == "maxpool2d":
        s = _int(entry.get("size", 2), f"{where}: size", 1, MAX_POOL)
        if len(shape) != 3:
            raise ValueError(f"{where}: expects (H, W, C) input, got {shape}")
        if shape[0] // s < 1 or shape[1] // s < 1:
            raise ValueError(f"{where}: a {s}x{s} pool does not fit a {shape[0]}x{shape[1]} input")
        shape = (shape[0] // s, shape[1] // s, shape[2])
    elif kind == "dropout":
        _float(entry.get("p", 0.5), f"{where}: p", 0.0, 1.0, hi_open=True)
    elif kind == "batchnorm":
        _float(entry.get("momentum", 0.9), f"{where}: momentum", 0.0, 1.0)
        _float(entry.get("eps", 1e-5), f"{where}: eps", 0.0, 1.0, lo_open=True)
        added = 4 * shape[-1]
    elif kind == "reshape":
        new = _shape(entry.get("shape"), f"{where}: shape")
        if math.prod(new) != math.prod(shape):
            raise ValueError(f"{where}: cannot reshape {shape} into {new}")
        shape = new
    elif kind == "flatten":
        shape = (math.prod(shape),)
    return added, shape


def check_json_depth(obj, limit: int = MAX_JSON_DEPTH) -> None:
    """ValueError if lists/objects in ``obj`` nest deeper than ``limit`` (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                raise ValueError(f"the spec is nested more than {limit} levels deep")
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
