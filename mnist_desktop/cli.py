"""Command line: `mnist-desktop [SUBCOMMAND]`.

With no subcommand the window opens. Subcommands that do not show a window (train, evaluate, download)
never import Qt, so they work on a machine without a display.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-desktop",
        description="Draw digits, train networks and look inside them. Without a subcommand, opens the window.",
    )
    parser.add_argument("--model", metavar="PATH", help="model to open in the window (default: the shipped CNN)")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window offscreen, save a PNG and exit")
    parser.add_argument("--view", metavar="NAME", default=None, help="view to show first (draw, train, imagine, evaluate)")
    parser.add_argument("--size", metavar="WxH", default=None, help="window size for --screenshot, e.g. 1280x800")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _cmd_gui(args: argparse.Namespace) -> int:
    from mnist_desktop.app.main_window import run_app  # Qt only when a window is wanted

    return run_app(args)


# Each entry adds one subparser and sets `func`; modules add theirs here.
SUBCOMMANDS: list = []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None) or _cmd_gui
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ---- predict ---------------------------------------------------------------------------------------


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="recognise the digit in image files or drawings", description=(
        "Recognise the digit in each FILE: an image (PNG, JPEG, BMP, GIF, WebP, ...; dark-on-light is "
        "inverted automatically, transparency counts as background) or a drawing saved by the window (.json). "
        "Each goes through the same MNIST-style preprocessing as the canvas. Exit status 1 if any file failed."))
    p.add_argument("files", nargs="+", metavar="FILE", help="image files or drawings (.json)")
    p.add_argument("--model", metavar="PATH", help="model file (default: the shipped model)")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per line: {"file", "digit", "probabilities"} or {"file", "error"}')
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    import json
    import math
    import os

    from pathlib import Path

    import numpy as np

    from mnist_desktop.engine.serialize import ModelFileError, load

    def fail(message: str) -> int:
        print(f"mnist-desktop predict: {message}", file=sys.stderr)
        return 2

    model_path = args.model
    if model_path is None:
        from mnist_desktop.shipped import MODELS_DIR, default_model_path

        model_path = default_model_path()
        if model_path is None:
            return fail(f"no model given and no shipped model found in {MODELS_DIR}; pass --model PATH")
    try:
        net, _spec = load(model_path)
    except ModelFileError as exc:
        return fail(str(exc))
    if math.prod(net.input_shape) != 784 or net.n_outputs != 10:
        return fail(f"{model_path}: this model takes {math.prod(net.input_shape)} inputs and gives "
                    f"{net.n_outputs} outputs; predict needs a 28x28 digit model (784 -> 10)")

    # No window is ever shown, so never talk to a display server (a stale DISPLAY would abort Qt).
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from mnist_desktop.app.imageio import ensure_gui_app, preprocess_file
    except ImportError as exc:
        return fail(f"reading images needs PySide6 ({exc})")
    ensure_gui_app()

    results: list[dict] = []
    images = []
    for name in args.files:
        try:
            pre = preprocess_file(name)
        except Exception as exc:  # a bad file is reported and the others go on
            msg = str(exc) if isinstance(exc, (ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
            for prefix in (f"{name}: ", f"{Path(name)}: "):  # the file is named once, in its own field
                if msg.startswith(prefix):
                    msg = msg[len(prefix):]
                    break
            results.append({"file": name, "error": msg})
            continue
        if pre is None:
            results.append({"file": name, "error": "blank: no ink found"})
            continue
        results.append({"file": name, "index": len(images)})
        images.append(pre.image)

    probs = net.predict_proba(np.stack(images).reshape(len(images), 784)) if images else np.zeros((0, 10))
    failed = 0
    for r in results:
        if "error" in r:
            failed += 1
            line = json.dumps(r) if args.json else f"{r['file']}: error: {r['error']}"
        else:
            p = probs[r["index"]].astype(np.float64)
            first, second = (int(k) for k in np.argsort(-p, kind="stable")[:2])
            if args.json:
                line = json.dumps({"file": r["file"], "digit": first, "probabilities": [round(float(v), 6) for v in p]})
            else:
                line = f"{r['file']}: {first} ({p[first] * 100:.1f}%), then {second} ({p[second] * 100:.1f}%)"
        print(line, flush=False)
    sys.stdout.flush()
    return 1 if failed else 0


SUBCOMMANDS.append(_add_predict)
