"""What a training run is, shared by the command line (``cli train``) and the window (the Train view):

    arch, training = train_settings(options)      # preset + overrides -> architecture dict, TrainConfig kwargs
    net, config, augment = build_run(arch, training)   # what Trainer(net, train, test, config, augment) takes
    print(format_epoch(record, "test"))           # the one epoch line, in the terminal and the view's log
    spec = trained_spec(net, config, history, ...) # what a trained model's file says about how it was made

No Qt here (``cli train`` runs without a display) and no maths: the Trainer in ``engine.train`` does the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_desktop.engine.network import Network
from mnist_desktop.engine.serialize import model_spec
from mnist_desktop.engine.train import EpochRecord, TrainConfig

if TYPE_CHECKING:
    from mnist_desktop.data.augment import Augmenter

# TrainConfig fields an option object may override (None: keep the preset's value)
TRAIN_OPTIONS = ("optimizer", "lr", "momentum", "schedule", "batch_size", "epochs", "l2", "seed")


def train_settings(options) -> tuple[dict, dict]:
    """(architecture, TrainConfig kwargs) from a preset and the options that override it.

    ``options`` has the attributes of ``mnist-desktop train``'s flags: preset (name or None), layers
    (text like '784-128-10', used without a preset), activation, loss, dropout, augment (text like
    'rotate,shift', or None), and the TRAIN_OPTIONS; None means "not given". ValueError with a reason for
    anything that does not fit together.
    """
    from mnist_desktop.engine.presets import get_preset, mlp, parse_layers

    if options.preset:
        preset = get_preset(options.preset)
        arch, training = preset.architecture, dict(preset.training)
        if options.dropout is not None or options.activation or options.loss:
            if preset.is_cnn:
                raise ValueError("--activation, --loss and --dropout apply to --layers MLPs; a CNN preset fixes them")
            sizes = [784] + [l["units"] for l in arch["layers"] if l["type"] == "dense"]
            acts = [l["type"] for l in arch["layers"] if l["type"] in ("relu", "sigmoid", "tanh")]
            arch = mlp(sizes, options.activation or (acts[0] if acts else "relu"), options.loss or arch["loss"],
                       options.dropout or 0.0)
    else:
        arch = mlp(parse_layers(options.layers), options.activation or "relu", options.loss or "ce",
                   options.dropout or 0.0)
        training = {}
    for key in TRAIN_OPTIONS:
        value = getattr(options, key)
        if value is not None:
            training[key] = value
    if options.augment is not None:
        from mnist_desktop.data.augment import parse_augment

        training["augment"] = parse_augment(options.augment)
    return arch, training


def build_run(arch: dict, training: dict) -> tuple[Network, TrainConfig, "Augmenter | None"]:
    """A fresh network (initialised from ``config.seed``), the validated TrainConfig and the augmenter
    (None without augmentation): ValueError with a reason for bad settings."""
    import numpy as np

    from mnist_desktop.data.augment import make_augmenter

    config = TrainConfig(**training)
    config.validate()
    net = Network.from_architecture(arch, rng=np.random.default_rng(config.seed))
    augment = make_augmenter(config.augment) if config.augment else None
    return net, config, augment


def init_from(net: Network, path) -> dict:
    """Start ``net`` from the weights of the model file ``path`` (fine-tuning) instead of its random ones;
    returns that file's spec. ValueError with a reason if the file cannot be read or holds a different
    architecture."""
    from mnist_desktop.engine.serialize import ModelFileError, load

    try:
        other, spec = load(path)
    except ModelFileError as exc:
        raise ValueError(str(exc)) from None
    if other.architecture() != net.architecture():
        raise ValueError(f"{path}: its network ({other.describe()}) is not the one to train ({net.describe()})")
    net.set_arrays(other.arrays())
    return spec


def format_epoch(r: EpochRecord, test_name: str = "test") -> str:
    """'epoch  3/10  train  97.12%  test  96.80%  loss 0.1021  lr 0.001  12.3s  4,870 img/s'."""
    return (f"epoch {r.epoch:>{len(str(r.epochs))}}/{r.epochs}  train {r.train_acc * 100:6.2f}%  "
            f"{test_name} {r.test_acc * 100:6.2f}%  loss {r.loss:.4f}  lr {r.lr:.3g}  "
            f"{r.seconds:6.1f}s  {r.images_per_s:,.0f} img/s")


def trained_spec(net: Network, config: TrainConfig, history: list[EpochRecord], *, name: str,
                 preset: str | None, dataset: str, test_name: str, train_images: int, test_images: int,
                 wall_seconds: float) -> dict:
    """The spec saved with a trained network: its training settings, the data it saw, the per-epoch
    history and, when scored on the real test set (``test_name == "test"``), its test accuracy (0..1)
    after the last epoch in ``history``."""
    last = history[-1] if history else None
    return model_spec(
        net, name=name,
        training={**config.to_dict(), "preset": preset, "dataset": dataset,
                  "train_images": int(train_images), "wall_seconds": round(wall_seconds, 1),
                  "history": [{"epoch": r.epoch, "loss": round(r.loss, 5), "train_acc": r.train_acc,
                               "test_acc": r.test_acc, "seconds": round(r.seconds, 2)} for r in history]},
        test_accuracy=last.test_acc if last is not None and test_name == "test" else None,
        dataset=dataset,
        test_images=int(test_images),
    )
