"""Command line: `mnist-desktop [SUBCOMMAND]`.

With no subcommand the window opens. Subcommands that do not show a window (train, evaluate, download)
never import Qt, so they work on a machine without a display (imagine too: it writes PNGs without Qt).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from mnist_desktop.fileio import SaveError


def build_parser() -> argparse.ArgumentParser:
    from mnist_desktop import __version__

    parser = argparse.ArgumentParser(
        prog="mnist-desktop",
        description="Draw digits, train networks and look inside them. Without a subcommand, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"mnist-desktop {__version__}")
    parser.add_argument("--model", metavar="MODEL", help=f"model to open in the window: {MODEL_HELP}")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window offscreen, save a PNG and exit")
    parser.add_argument("--view", metavar="NAME", default=None, help="view to show first (draw, train, imagine, evaluate)")
    parser.add_argument("--size", metavar="WxH", default=None, help="window size for --screenshot, e.g. 1280x800")
    parser.add_argument("--drawing", metavar="JSON", help="open this drawing in the Draw view")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


SUBCOMMANDS: list = []   # add(subparsers) for each subcommand, in --help order; @subcommand fills it


def subcommand(name: str, *, help: str, description: str):
    """Register the decorated ``add(p)`` as the subcommand ``name``: build_parser makes its parser (with
    ``help`` for the list of subcommands and ``description`` for its own --help) and ``add`` gives it its
    arguments and ``func``."""
    def register(add):
        SUBCOMMANDS.append(lambda sub: add(sub.add_parser(name, help=help, description=description)))
        return add
    return register


MODEL_HELP = "a .npz file, or a shipped model by name: cnn (the default) or mlp"


def _open_model(text, **load_kw):
    """-> (path, network, spec) of the model named on the command line (a file, or cnn / mlp; None: the
    default); ModelFileError, one line, when it cannot be found or loaded. ``load_kw``: serialize.load's."""
    from mnist_desktop.engine.serialize import load
    from mnist_desktop.shipped import resolve_model

    path = resolve_model(text)
    net, spec = load(path, **load_kw)
    return path, net, spec


def _cmd_gui(args: argparse.Namespace) -> int:
    from mnist_desktop.app.launch import run_app  # Qt only when a window is wanted

    return run_app(args)


class Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal; silent in logs and CI)."""

    def __init__(self, label: str = "", stream=None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label = label
        self._last = 0.0

    def update(self, done: float, total: float | None, extra: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return
        self._last = now
        if total:
            frac = min(max(done / total, 0.0), 1.0)
            bar = "#" * int(frac * 30)
            text = f"\r{self.label} [{bar:<30}] {frac * 100:5.1f}% {extra}"
        else:
            text = f"\r{self.label} {extra}"
        self.stream.write(text[:200].ljust(80))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def _fail(message: str, code: int = 2) -> int:
    print(f"mnist-desktop: {message}", file=sys.stderr)
    return code


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR", help="folder with the four IDX files (default: $MNIST_DIR, then the cache)")
    p.add_argument("--dataset", choices=("mnist", "fashion"), default="mnist", help="which dataset (default: mnist)")


def _load_data(args, **kw):
    from mnist_desktop.data import load_dataset

    return load_dataset(args.dataset, args.data, **kw)


def _out_problem(path: Path, suffix: str, flag: str = "--out") -> str | None:
    """Why a command cannot write its output to ``path`` (not a ``suffix`` file, any case; a folder that is
    missing or read-only), checked before any work; None if it can."""
    if path.suffix.lower() != suffix:
        return f"{flag} must name a {suffix} file, got {path}"
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        return f"cannot write to {path.parent}: the folder does not exist or is not writable"
    return None


# ---- train ---------------------------------------------------------------------------------------


@subcommand("train", help="train a network and save it", description=(
    "Train a network on MNIST (or Fashion-MNIST) and save it as a model file. Start from a preset "
    "(its settings are the defaults) or give the layer sizes of an MLP."))
def _add_train(p: argparse.ArgumentParser) -> None:
    from mnist_desktop.engine.optim import OPTIMIZERS, SCHEDULES
    from mnist_desktop.engine.presets import ACTIVATIONS, PRESETS

    arch = p.add_mutually_exclusive_group(required=True)
    arch.add_argument("--preset", choices=list(PRESETS), help="a named architecture with its training settings")
    arch.add_argument("--layers", metavar="SIZES", help="an MLP's layer sizes, e.g. 784,128,128,10")
    p.add_argument("--activation", choices=ACTIVATIONS, help="hidden activation for --layers (default relu)")
    p.add_argument("--loss", choices=("ce", "mse"), help="ce: softmax cross-entropy; mse: sigmoid outputs + quadratic cost")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--momentum", type=float, help="momentum for --optimizer momentum (default 0.9)")
    p.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--l2", type=float, help="L2 weight decay")
    p.add_argument("--dropout", type=float, help="dropout after each hidden layer of an MLP")
    p.add_argument("--augment", metavar="OPS", help="on-the-fly augmentation, e.g. rotate,shift,scale,thickness ('none' for none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-from", metavar="MODEL",
                   help="start from this model's weights (fine-tuning; same architecture) instead of random ones")
    p.add_argument("--validation", action="store_true", help="hold out the last 10,000 training images as the test set")
    p.add_argument("--limit-per-class", type=int, metavar="N", help="train on the first N images of each digit")
    p.add_argument("--name", help="model name stored in the file (default: the file name)")
    p.add_argument("--out", required=True, metavar="PATH", help="where to save the model (.npz)")
    _add_data_args(p)
    p.set_defaults(func=_cmd_train)


def _cmd_train(args) -> int:
    from mnist_desktop.data import DatasetError
    from mnist_desktop.engine import EpochRecord, Trainer, TrainingDiverged
    from mnist_desktop.engine.serialize import save
    from mnist_desktop.training import build_run, format_epoch, init_from, train_settings

    out = Path(args.out)
    if out.suffix != ".npz":
        return _fail(f"--out must name a .npz file, got {out}")
    if out.is_dir():
        return _fail(f"cannot save {out}: it is a folder; --out must name a file")
    if args.limit_per_class is not None and args.limit_per_class < 1:
        return _fail(f"--limit-per-class must be at least 1, got {args.limit_per_class}")
    if problem := _out_problem(out, ".npz"):
        return _fail(problem)
    try:
        net, config, augment = build_run(*train_settings(args))
        if args.init_from:
            init_from(net, args.init_from)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        data = _load_data(args, validation=args.validation, limit_per_class=args.limit_per_class)
    except (DatasetError, ValueError) as exc:
        return _fail(str(exc))
    name = args.name or out.stem
    print(f"{name}: {net.describe()}, {net.n_params():,} parameters; {len(data.x_train):,} training images "
          f"({data.name}), {len(data.x_test):,} {data.test_name} images")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in config.to_dict().items())
          + (f", init_from={args.init_from}" if args.init_from else ""))
    trainer = Trainer(net, (data.x_train, data.y_train), (data.x_test, data.y_test), config, augment)
    bar = Progress("training")
    t0 = time.perf_counter()
    last = None
    try:
        for record in trainer.run():
            if isinstance(record, EpochRecord):
                bar.close()
                print(format_epoch(record, data.test_name), flush=True)
                last = record
            else:
                done = (record.epoch - 1) * record.batches + record.batch
                bar.update(done, record.batches * config.epochs,
                           f"epoch {record.epoch} loss {record.loss:.3f} {record.images_per_s:,.0f} img/s")
    except TrainingDiverged as exc:
        bar.close()
        return _save_diverged(exc, args, trainer, data, name, out, time.perf_counter() - t0)
    except KeyboardInterrupt:
        bar.close()
        done = f"after {last.epoch} of {config.epochs} epochs" if last else "before the first epoch ended"
        return _fail(f"training stopped by Ctrl+C {done}; nothing was saved ({out} is unchanged)", 130)
    wall = time.perf_counter() - t0
    try:
        save(net, out, _train_spec(args, net, config, trainer.history, data, name, wall))
    except OSError as exc:  # fileio.SaveError: one line naming the file; the previous file is untouched
        return _fail(f"{exc} (the trained model was not saved; the previous {out.name}, if any, is unchanged)", 1)
    print(f"saved {out} ({data.test_name} accuracy {last.test_acc * 100:.2f}%, wall time {wall:.1f}s)")
    return 0


def _save_diverged(exc, args, trainer, data, name: str, out: Path, wall_seconds: float) -> int:
    """`train` diverged (``exc``, a TrainingDiverged): save the weights of the last good epoch, which the
    network holds again, like the window does; exit status 1 either way."""
    from mnist_desktop.engine.serialize import save

    if not exc.restored_epoch:
        return _fail(f"{exc} Nothing was saved.", 1)
    history = [r for r in trainer.history if r.epoch <= exc.restored_epoch]
    spec = _train_spec(args, trainer.net, trainer.config, history, data, name, wall_seconds)
    try:
        save(trainer.net, out, spec)
    except OSError as save_exc:
        return _fail(f"{exc} The last good weights could not be saved either: {save_exc}", 1)
    return _fail(f"{exc} Saved the weights after epoch {exc.restored_epoch} "
                 f"({data.test_name} accuracy {history[-1].test_acc * 100:.2f}%) to {out}.", 1)


def _train_spec(args, net, config, history, data, name: str, wall_seconds: float) -> dict:
    """The spec a model trained by `train` is saved with (training.trained_spec, plus --init-from)."""
    from mnist_desktop.training import trained_spec

    spec = trained_spec(net, config, history, name=name, preset=args.preset, dataset=data.name,
                        test_name=data.test_name, train_images=len(data.x_train), test_images=len(data.x_test),
                        wall_seconds=wall_seconds)
    if args.init_from:
        spec["training"]["init_from"] = str(args.init_from)
    return spec


# ---- evaluate ------------------------------------------------------------------------------------


@subcommand("evaluate", help="accuracy of a model on the test set", description=(
    "Score a model on the 10,000 test images: accuracy, per-digit accuracy, confusions."))
def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", nargs="?", default=None,
                   help=f"the model to score: {MODEL_HELP} (default: cnn)")
    p.add_argument("--json", action="store_true", help="print one JSON object: accuracy, per_class, n, correct")
    p.add_argument("--confusion", action="store_true", help="print the 10x10 confusion matrix")
    damage = p.add_argument_group("damage", "score the model on damaged test images (robustness; combinable)")
    damage.add_argument("--rotate", type=float, default=0.0, metavar="DEG",
                        help="turn every test digit DEG degrees (counter-clockwise)")
    damage.add_argument("--noise", type=float, default=0.0, metavar="SIGMA",
                        help="add Gaussian noise of standard deviation SIGMA (pixels are 0..1)")
    damage.add_argument("--thickness", type=float, default=0.0, metavar="S",
                        help="thicker strokes (S > 0, grey dilation) or thinner (S < 0, erosion); 1 = one step")
    damage.add_argument("--shift", type=float, default=0.0, metavar="PX",
                        help="move every digit PX pixels right, left, up or down (random per digit)")
    damage.add_argument("--seed", type=int, default=0, help="seed of the noise and shift directions (default 0)")
    p.add_argument("--rotation-curve", action="store_true",
                   help="print the accuracy with the digits turned -60..60 degrees in 10-degree steps")
    _add_data_args(p)
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args) -> int:
    from mnist_desktop.data import DatasetError
    from mnist_desktop.engine.serialize import ModelFileError
    from mnist_desktop.evaluation import Damage, damage, evaluate, format_confusion, rotation_curve

    dmg = Damage(rotate=args.rotate, noise=args.noise, thickness=args.thickness, shift=args.shift, seed=args.seed)
    try:
        dmg.validate()
    except ValueError as exc:
        return _fail(f"--{exc}")            # "--noise must be between 0 and 1, got 3.0": names match the flags
    try:
        model, net, spec = _open_model(args.model, digits=True)   # 784 -> 10, or the scores would be nonsense
    except ModelFileError as exc:
        return _fail(str(exc))
    try:
        data = _load_data(args, test_only=True)
    except DatasetError as exc:
        return _fail(str(exc))
    bar = Progress("evaluating")
    t0 = time.perf_counter()
    x_test = damage(data.x_test, dmg)
    result = evaluate(net, x_test, data.y_test, progress=bar.update)
    bar.close()
    seconds = time.perf_counter() - t0
    curve = None
    if args.rotation_curve:
        bar = Progress("rotating")
        curve = rotation_curve(net, data.x_test, data.y_test, progress=bar.update)
        bar.close()
    if args.json:
        out = {"model": str(model), "accuracy": result.accuracy, "correct": result.correct, "n": result.n,
               "per_class": [None if math.isnan(v) else float(v) for v in result.per_class],
               "seconds": round(seconds, 3)}
        if not dmg.is_none:
            out["damage"] = {"rotate": dmg.rotate, "noise": dmg.noise, "thickness": dmg.thickness,
                             "shift": dmg.shift, "seed": dmg.seed}
        if args.confusion:
            out["confusion"] = result.confusion.tolist()
        if curve is not None:
            out["rotation_curve"] = [{"angle": float(a), "accuracy": float(v)}
                                     for a, v in zip(curve.angles, curve.accuracy)]
        print(json.dumps(out))
        return 0
    print(f"{spec.get('name') or Path(model).stem}: {net.describe()}")
    on = f"the {data.name} test set" + ("" if dmg.is_none else f" ({dmg.describe()})")
    print(f"accuracy {result.accuracy * 100:.2f}% ({result.correct:,}/{result.n:,}) on {on}, {seconds:.2f}s")
    print("per digit: " + "  ".join(f"{d}: {a * 100:.1f}%" for d, a in enumerate(result.per_class)))
    mistakes = result.top_confusions(5)
    if mistakes:
        print("most confused: " + ", ".join(f"{t}->{p} ({c})" for t, p, c in mistakes))
    if args.confusion:
        print(format_confusion(result.confusion))
    if curve is not None:
        print("accuracy by rotation (undamaged digits turned):")
        for a, v in zip(curve.angles, curve.accuracy):
            print(f"{a:+6.0f}°  {v * 100:6.2f}%  " + "#" * int(round(v * 40)))
    return 0


# ---- download ------------------------------------------------------------------------------------


@subcommand("download", help="download MNIST or Fashion-MNIST", description=(
    "Download the four IDX files from the public mirrors, checking each file's checksum."))
def _add_download(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=("mnist", "fashion"), default="mnist")
    p.add_argument("--dir", metavar="DIR", help="where to put the files (default: the user cache folder)")
    p.set_defaults(func=_cmd_download)


def _cmd_download(args) -> int:
    from mnist_desktop.data import DownloadError, download

    bar = Progress("downloading")

    def progress(name, done, total):
        bar.update(done, total, f"{name} {done / 1e6:.1f} MB")

    try:
        folder = download(args.dataset, args.dir, progress=progress)
    except DownloadError as exc:
        bar.close()
        return _fail(str(exc), 1)
    bar.close()
    print(f"{args.dataset}: the four files are in {folder}")
    return 0


# ---- imagine -------------------------------------------------------------------------------------


def _digit_or_all(text: str):
    if text == "all":
        return "all"
    if text.isdigit() and 0 <= int(text) <= 9:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a digit 0-9 or 'all', got {text!r}")


@subcommand("imagine", help="what does the network think a digit looks like? (PNG)", description=(
    "Ask a trained network what it thinks a digit looks like and save the picture as a PNG. "
    "backproject: the digit's one-hot output pushed back through the transposed weights, a map of "
    "evidence (red: ink here says 'this digit', blue: ink here says 'another digit'). "
    "maximize: an image of valid pixels grown by gradient ascent until the network is sure. "
    "Each imagined image is fed back through the network and its verdict printed."))
def _add_imagine(p: argparse.ArgumentParser) -> None:
    p.add_argument("digit", type=_digit_or_all, metavar="DIGIT|all", help="a digit 0-9, or 'all' for the ten")
    p.add_argument("--method", choices=("backproject", "maximize"), default="backproject",
                   help="backproject (default) or maximize")
    # SUPPRESS: `mnist-desktop --model M imagine 3` keeps the top-level --model
    p.add_argument("--model", metavar="MODEL", default=argparse.SUPPRESS, help=f"{MODEL_HELP}")
    p.add_argument("--out", required=True, metavar="PNG", help="where to write the picture (.png)")
    p.add_argument("--scale", type=int, default=8, help="pixels per image pixel (default 8: 224x224 per digit)")
    p.add_argument("--no-labels", action="store_true", help="no caption strip above each picture")
    p.add_argument("--steps", type=int, help="maximize: gradient steps (default 200)")
    p.add_argument("--seed", type=int, default=0, help="maximize: seed of the random start (default 0)")
    p.set_defaults(func=_cmd_imagine)


def _verdict(r) -> str:
    """One line per imagined digit: what the network says about it."""
    said = f"{r.digit}: the network reads the imagined {r.digit} as {r.predicted} ({r.probabilities[r.predicted] * 100:.1f}%)"
    return said if r.recognised else f"{said}; it gives {r.digit} {r.probability * 100:.1f}%"


def _cmd_imagine(args) -> int:
    import numpy as np

    from mnist_desktop import explain, heatmap
    from mnist_desktop.engine.serialize import ModelFileError
    out = Path(args.out)
    if problem := _out_problem(out, ".png"):
        return _fail(problem)
    if not 1 <= args.scale <= 64:
        return _fail(f"--scale must be between 1 and 64, got {args.scale}")
    kw = {}
    if args.method == "maximize":
        kw["seed"] = args.seed
        if args.steps is not None:
            if args.steps < 0:
                return _fail(f"--steps must be >= 0, got {args.steps}")
            kw["steps"] = args.steps
    elif args.steps is not None:
        return _fail("--steps applies to --method maximize")
    try:
        model, net, _spec = _open_model(getattr(args, "model", None))
    except ModelFileError as exc:
        return _fail(str(exc))
    if net.n_outputs != 10 or net.input_shape not in ((784,), (28, 28), (28, 28, 1)):
        return _fail(f"{model}: imagine needs a network with 784 inputs and 10 outputs ({net.describe()})")
    results = explain.imagine_all(net, args.method, **kw)
    if args.digit != "all":
        results = [results[args.digit]]
    tiles = []
    for r in results:
        rgb = heatmap.diverging_rgb(r.image) if args.method == "backproject" else heatmap.grayscale_rgb(r.image)
        rgb = heatmap.upscale_nearest(rgb, args.scale)
        if not args.no_labels:
            text = f"{r.digit}>{r.predicted} {round(r.probabilities[r.predicted] * 100)}%"
            color = (0, 110, 0) if r.recognised else (190, 0, 0)
            rgb = heatmap.with_caption(rgb, text, scale=max(1, args.scale // 3), color=color)
        tiles.append(rgb)
    picture = tiles[0] if len(tiles) == 1 else heatmap.tile(tiles, 5, pad=max(1, args.scale // 2), fill=255)
    for r in results:
        print(_verdict(r))
    try:
        heatmap.write_png(out, np.ascontiguousarray(picture))
    except OSError as exc:
        return _fail(str(exc) if isinstance(exc, SaveError) else f"cannot write {out}: {exc}", 1)
    print(f"wrote {out} ({picture.shape[1]}x{picture.shape[0]} px, {args.method})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None) or _cmd_gui
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("mnist-desktop: stopped by Ctrl+C; files being written were left as they were", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mnist-desktop predict ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


# ---- predict ---------------------------------------------------------------------------------------


@subcommand("predict", help="recognise the digit in image files or drawings", description=(
    "Recognise the digit in each FILE: an image (PNG, JPEG, BMP, GIF, WebP, ...; dark-on-light is "
    "inverted automatically, transparency counts as background) or a drawing saved by the window (.json). "
    "Each goes through the same MNIST-style preprocessing as the canvas. Exit status 1 if any file failed."))
def _add_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="image files or drawings (.json)")
    p.add_argument("--model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--json", action="store_true",
                   help='one JSON object per line: {"file", "digit", "probabilities", "verdict", "text", '
                        '"reason", "because", "calibrated"} or {"file", "error"}; verdict is "digit", '
                        '"unsure" or "not_digit"')
    p.epilog = ("Each answer is checked (mnist_desktop/confidence.py): 'not sure: 3 or 5?' when the two best "
                "digits are close or the best is low; 'that doesn't look like a digit' for a dot, a blob, a "
                "flat line, a scribble, or (models with a calibration file, see `mnist-desktop calibrate`) "
                "anything unlike the digits the model learned.")
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from mnist_desktop.engine.serialize import ModelFileError

    def fail(message: str) -> int:
        print(f"mnist-desktop predict: {message}", file=sys.stderr)
        return 2

    try:
        model_path, net, _spec = _open_model(args.model, digits=True)
    except ModelFileError as exc:
        return fail(str(exc))
    if math.prod(net.input_shape) != 784 or net.n_outputs != 10:
        return fail(f"{model_path}: this model takes {math.prod(net.input_shape)} inputs and gives "
                    f"{net.n_outputs} outputs; predict needs a 28x28 digit model (784 -> 10)")

    # No window is ever shown, so never talk to a display server (a stale DISPLAY would abort Qt).
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from mnist_desktop.app.imageio import ensure_gui_app, is_drawing_file, preprocess_file
    except ImportError as exc:
        return fail(f"reading images needs PySide6 ({exc})")
    ensure_gui_app()

    from mnist_desktop.confidence import assess_batch, calibration_path, find_calibration
    from mnist_desktop.drawing import read_drawing

    calibration = find_calibration(net, model_path)
    if calibration is None:
        print(f"mnist-desktop predict: note: {model_path} has no calibration ({calibration_path(model_path).name}); "
              f"'not a digit' uses the shape rules only. `mnist-desktop calibrate {model_path}` makes one.",
              file=sys.stderr)

    results, images, drawings = _predict_read(args.files, is_drawing_file, preprocess_file, read_drawing)
    probs, verdicts = (assess_batch(net, np.stack(images), calibration, drawings) if images
                       else (np.zeros((0, 10)), []))
    failed = 0
    for r in results:
        failed += "error" in r
        print(_predict_line(r, probs, verdicts, args.json), flush=False)
    sys.stdout.flush()
    return 1 if failed else 0


def _predict_read(files, is_drawing_file, preprocess_file, read_drawing) -> tuple[list[dict], list, list]:
    """Read and preprocess each file: (one result per file, {"file", "index"} or {"file", "error"};
    the 28x28 images; the drawings, None for pictures), the last two in the order of the indices."""
    results: list[dict] = []
    images, drawings = [], []
    for name in files:
        try:
            drawing = read_drawing(name) if is_drawing_file(name) else None
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
        drawings.append(drawing)
    return results, images, drawings


def _predict_line(r: dict, probs, verdicts, as_json: bool) -> str:
    """The line predict prints for one file's result (see _predict_read): text or JSON."""
    import numpy as np

    if "error" in r:
        return json.dumps(r) if as_json else f"{r['file']}: error: {r['error']}"
    p = probs[r["index"]].astype(np.float64)
    v = verdicts[r["index"]]
    first, second = v.digit, v.second
    if as_json:
        return json.dumps({"file": r["file"], "digit": first, "probabilities": [round(float(x), 6) for x in p],
                           **v.as_dict()})
    numbers = f"{first} ({p[first] * 100:.1f}%), then {second} ({p[second] * 100:.1f}%)"
    if v.kind == "not_digit":
        return f"{r['file']}: {v.text} ({v.because}); the network would say {numbers}"
    if v.kind == "unsure":
        return f"{r['file']}: {v.text} not sure: {numbers}"
    return f"{r['file']}: {numbers}"


# ---- calibrate -------------------------------------------------------------------------------------


@subcommand("calibrate", help="let a model say 'that doesn\'t look like a digit' (writes MODEL.calib)",
            description=(
    "Compute the statistics the 'not a digit' check needs for MODEL from the MNIST training digits "
    "(class means and covariance of its penultimate features, and the limits of its energy and feature "
    "distance) and write them beside the model (cnn.npz -> cnn.calib). The Draw view and predict use "
    "them while the model's weights are the ones calibrated. Needs MNIST (see download)."))
def _add_calibrate(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--out", metavar="PATH", help="where to write (default: MODEL with the suffix .calib)")
    p.add_argument("--data", metavar="DIR", help="folder with the four IDX files (default: $MNIST_DIR, then the cache)")
    p.set_defaults(func=_cmd_calibrate, dataset="mnist")


def _cmd_calibrate(args) -> int:
    from mnist_desktop.confidence import calibrate, calibration_path
    from mnist_desktop.data import DatasetError
    from mnist_desktop.engine.serialize import ModelFileError

    try:
        model, net, _spec = _open_model(args.model)
    except ModelFileError as exc:
        return _fail(str(exc))
    if math.prod(net.input_shape) != 784 or net.n_outputs != 10:
        return _fail(f"{model}: calibration needs a 28x28 digit model (784 -> 10)")
    try:
        data = _load_data(args)
    except DatasetError as exc:
        return _fail(str(exc))
    t0 = time.perf_counter()
    try:
        cal = calibrate(net, data.x_train, data.y_train)
    except ValueError as exc:
        return _fail(str(exc))
    out = Path(args.out) if args.out else calibration_path(model)
    try:
        cal.save(out)
    except OSError as exc:
        return _fail(f"cannot save {out}: {exc.strerror or exc}")
    print(f"{out}: {cal.n:,} training digits, {cal.means.shape[1]} features; limits: "
          f"energy {cal.energy_limit:.3f}, feature distance {cal.distance_limit:.1f} ({time.perf_counter() - t0:.1f} s)")
    return 0


# ---- adapt ---------------------------------------------------------------------------------------


@subcommand("adapt", help="teach a model your handwriting from labelled drawings", description=(
    "Adapt a model to someone's handwriting: fine-tune it on labelled drawings (a few of each digit "
    "are enough) and save the result as a new model file that predict, evaluate and the window use "
    "like any other. A drawing's label is its \"label\" key, else the digit after the last underscore "
    "of its name (0042_7.json is a 7). Adapting an adapted model starts again from its base model. "
    "Nothing is written unless the adaptation finished."))
def _add_adapt(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="DRAWING_OR_DIR", help="drawing files (.json) or folders of them")
    p.add_argument("--model", metavar="BASE", default=argparse.SUPPRESS,
                   help=MODEL_HELP + "; the model to adapt")
    p.add_argument("--out", required=True, metavar="NEW.npz", help="where to save the adapted model")
    p.add_argument("--name", help="model name stored in the file (default: BASE's name + '-mine')")
    p.add_argument("--check", action="store_true",
                   help="also measure: before/after accuracy on your digits (k-fold: each digit read by a "
                        "model adapted without it) and on the MNIST test set (when found; see --data)")
    p.add_argument("--data", metavar="DIR", help="MNIST folder for --check (default: $MNIST_DIR, then the cache)")
    p.add_argument("--seed", type=int, default=0, help="seed of the augmentation and replay sampling (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object with what was done and measured")
    p.set_defaults(func=_cmd_adapt, dataset="mnist")


def _cmd_adapt(args) -> int:
    from mnist_desktop import personalize
    from mnist_desktop.adapt_check import adapted_calibration
    from mnist_desktop.confidence import calibration_path
    from mnist_desktop.engine.serialize import ModelFileError, save
    from mnist_desktop.shipped import MODELS_DIR

    out = Path(args.out)
    if problem := _out_problem(out, ".npz"):
        return _fail(problem)
    if out.resolve().parent == MODELS_DIR.resolve():
        return _fail(f"{out}: refusing to write into the shipped models' folder; choose another place")
    try:
        model, net, spec, notes = _adapt_base(getattr(args, "model", None))
    except ModelFileError as exc:
        return _fail(str(exc))
    if Path(model).resolve() == out.resolve():
        return _fail(f"--out {out} is the base model itself; choose a new file")
    try:
        files = personalize.drawing_files(args.inputs)
    except ValueError as exc:
        return _fail(str(exc))
    if not files:
        return _fail("no drawing files (.json) found in " + ", ".join(args.inputs))

    examples, failed = _adapt_examples(files)
    if examples is None:
        return failed
    settings = personalize.AdaptSettings(seed=args.seed)
    try:
        replay = personalize.load_replay()
        bar = Progress("adapting")
        result = personalize.adapt(net, examples, replay=replay, settings=settings,
                                   progress=lambda done, total, what: bar.update(done, total, what))
        bar.close()
    except personalize.AdaptError as exc:
        return _fail(str(exc), 1)
    report = {"base": str(model), "out": str(out), "examples": len(examples),
              "per_digit": [int(c) for c in examples.counts()], "seconds": round(result.seconds, 2),
              "method": personalize.METHOD}
    check, test_accuracy = {}, None
    if args.check:
        check, test_accuracy = _adapt_check(args, net, result, examples, replay, settings)
        report.update(check)
    name = args.name or f"{spec.get('name') or Path(model).stem}-mine"
    new_spec = personalize.adapted_spec(result, spec, model, name=name, test_accuracy=test_accuracy, check=check)
    calibration = adapted_calibration(result.net, replay, examples)    # the new weights' "not a digit"
    try:
        save(result.net, out, new_spec, compress=False)
        calibration.save(calibration_path(out))
    except OSError as exc:
        out.unlink(missing_ok=True)
        return _fail(f"{out}: cannot write ({exc.strerror or exc}); nothing was written", 1)
    report["calibration"] = str(calibration_path(out))
    if args.json:
        print(json.dumps({**report, "notes": notes}))
        return 0
    _print_adapted(args, spec, model, examples, result, check, notes)
    print(f"saved {out} (and {calibration_path(out).name}: its calibration for 'not a digit')")
    return 0


def _adapt_base(text):
    """-> (path, network, spec, notes) of the model `adapt` starts from: the one named, or for an adapted
    model its base (a note says so); ModelFileError, one line, when it cannot be loaded."""
    from mnist_desktop import personalize
    from mnist_desktop.engine.serialize import ModelFileError, load, read_spec
    from mnist_desktop.shipped import resolve_model

    model, notes = resolve_model(text), []
    spec = read_spec(model)
    if personalize.is_adapted(spec):
        base = personalize.base_model_path(spec)
        if base is None:
            info = spec["adaptation"].get("base") or {}
            raise ModelFileError(f"{model} is an adapted model and its base model {info.get('path')!r} is missing or "
                                 "changed; adapt the base model itself (--model BASE)")
        notes.append(f"{model} is adapted from {base}: adapting {base} again")
        model = base
    net, spec = load(model)
    return model, net, spec, notes


def _adapt_examples(files):
    """-> (personalize.Examples, None): the drawings rendered and preprocessed as the canvas's are; or
    (None, exit status) after saying which files could not be used."""
    from mnist_desktop import personalize

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # drawings are rendered with Qt, never shown
    try:
        from mnist_desktop.app.imageio import ensure_gui_app, preprocess_file
    except ImportError as exc:
        return None, _fail(f"reading drawings needs PySide6 ({exc})")
    ensure_gui_app()

    def to_image(path):
        pre = preprocess_file(path)
        return None if pre is None else pre.image

    examples, errors = personalize.examples_from_files(files, to_image)
    if errors:
        for line in errors:
            print(f"mnist-desktop adapt: {line}", file=sys.stderr)
        return None, _fail(f"{len(errors)} of {len(files)} files could not be used; nothing was written", 1)
    return examples, None


def _print_adapted(args, spec, model, examples, result, check: dict, notes: list[str]) -> None:
    """`adapt`'s text report: what was adapted to what, and what --check measured."""
    for note in notes:
        print(note)
    counts = examples.counts()
    missing = [str(d) for d in range(10) if counts[d] == 0]
    print(f"adapted {spec.get('name') or Path(model).stem} to {len(examples)} drawings "
          f"({', '.join(f'{d}: {c}' for d, c in enumerate(counts) if c)}) in {result.seconds:.1f} s")
    if missing:
        print(f"no examples of {', '.join(missing)}: those digits are read as the base model reads them")
    if "own_digits" in check:
        cv = check["own_digits"]
        print(f"your digits ({cv['folds']}-fold, each read by a model adapted without it): "
              f"{cv['before'] * 100:.1f}% before, {cv['after'] * 100:.1f}% after "
              f"({cv['fixed']} fixed, {cv['broken']} broken)")
    if "mnist_test" in check:
        m = check["mnist_test"]
        print(f"MNIST test: {m['before'] * 100:.2f}% before, {m['after'] * 100:.2f}% after ({m['n']:,} digits)")
    elif args.check:
        print(f"MNIST test: not measured ({check.get('mnist_test_problem', 'not found')})")


def _adapt_check(args, net, result, examples, replay, settings) -> tuple[dict, float | None]:
    """--check: k-fold on the user's digits, and the MNIST test set before/after when it is found."""
    from mnist_desktop.adapt_check import measure_with_test_set

    check, test_accuracy = measure_with_test_set(net, result.net, examples, lambda: _load_data(args, test_only=True),
                                                 replay=replay, settings=settings)
    return check.to_dict(), test_accuracy


# ---- learning-curve ---------------------------------------------------------------------------------


@subcommand("learning-curve", help="accuracy against the number of training images (table, JSON, PNG)",
            description=(
    "Train each preset on growing, balanced slices of the training set (the first SIZE/10 images of each "
    "digit) with the preset's settings, and report training and test accuracy per size. Every size sees "
    "the same number of training images (--images), so small slices train for many epochs. Points are "
    "printed as they finish."))
def _add_learning_curve(p: argparse.ArgumentParser) -> None:
    from mnist_desktop.learning_curve import DEFAULT_IMAGES, DEFAULT_PRESETS, DEFAULT_SIZES

    p.add_argument("--presets", default=",".join(DEFAULT_PRESETS), metavar="NAMES",
                   help=f"comma-separated presets (default {','.join(DEFAULT_PRESETS)})")
    p.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), metavar="SIZES",
                   help="comma-separated training-set sizes, 1k = 1000 (default 100,300,1000,3000,10000,60000)")
    p.add_argument("--images", type=int, default=DEFAULT_IMAGES, metavar="N",
                   help=f"training images seen per point (epochs = N / size, at least 1; default {DEFAULT_IMAGES:,})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (progress on stderr)")
    p.add_argument("--save", metavar="JSON", help="also write the result to this JSON file (the window opens it)")
    p.add_argument("--out", metavar="PNG", help="draw the curve into this PNG file")
    _add_data_args(p)
    p.set_defaults(func=_cmd_learning_curve)


def _cmd_learning_curve(args) -> int:
    from mnist_desktop.data import DatasetError
    from mnist_desktop.engine import TrainingDiverged
    from mnist_desktop.learning_curve import CurveRun, format_point, format_table, parse_presets, parse_sizes, save_curve

    try:
        presets, sizes = parse_presets(args.presets), parse_sizes(args.sizes)
    except ValueError as exc:
        return _fail(str(exc))
    for flag, path, suffix in (("--out", args.out, ".png"), ("--save", args.save, ".json")):
        if path is not None and (problem := _out_problem(Path(path), suffix, flag)):
            return _fail(problem)
    try:
        data = _load_data(args)
        run = CurveRun(presets, sizes, data, images=args.images, seed=args.seed)
    except (DatasetError, ValueError) as exc:
        return _fail(str(exc))
    out = sys.stderr if args.json else sys.stdout
    print(f"learning curve: {', '.join(presets)} at {', '.join(f'{s:,}' for s in sizes)} training images "
          f"({data.name}, {args.images:,} images seen per point, {len(data.y_test):,} test images)", file=out, flush=True)
    bar = Progress("learning curve")
    t0 = time.perf_counter()
    done = [0]

    def progress(preset, size, epoch, epochs):
        bar.update(done[0] * 1000 + epoch * 1000 // epochs, run.total * 1000, f"{preset} at {size:,}: epoch {epoch}/{epochs}")

    try:
        for point in run.points(progress):
            done[0] += 1
            bar.close()
            print(format_point(point), file=out, flush=True)
    except TrainingDiverged as exc:
        bar.close()
        return _fail(f"{run.current[0]} at {run.current[1]:,} images: {exc}", 1)
    bar.close()
    result = run.result()
    wall = time.perf_counter() - t0
    print(f"\n{format_table(result)}\nwall time {wall:.1f}s", file=out, flush=True)
    if args.save:
        save_curve(result, args.save)
        print(f"saved {args.save}", file=out)
    if args.out:
        from mnist_desktop.app.curve_plot import render_png   # Qt (offscreen) only to draw the PNG

        render_png(result, args.out)
        print(f"wrote {args.out}", file=out)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    return 0
