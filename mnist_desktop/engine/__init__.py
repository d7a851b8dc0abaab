"""The neural-network engine: pure NumPy, no Qt, no I/O beyond model files."""

from . import allocator, threads  # noqa: F401  (allocator: thresholds set at import)
from .layers import LAYER_TYPES, BatchNorm, Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D, ReLU, Reshape, Sigmoid, Tanh
from .losses import mean_squared_error, softmax, softmax_cross_entropy
from .network import Network
from .optim import SGD, Adam, make_optimizer, scheduled_lr
from .presets import PRESETS, Preset, get_preset, mlp, parse_layers
from .serialize import ModelFileError, load, model_spec, save
from .train import BatchRecord, EpochRecord, TrainConfig, Trainer, TrainingDiverged

__all__ = [
    "LAYER_TYPES", "Layer", "Dense", "ReLU", "Sigmoid", "Tanh", "Dropout", "Reshape", "Flatten", "Conv2D",
    "MaxPool2D", "BatchNorm", "softmax", "softmax_cross_entropy", "mean_squared_error", "Network", "SGD",
    "Adam", "make_optimizer", "scheduled_lr", "PRESETS", "Preset", "get_preset", "mlp", "parse_layers",
    "ModelFileError", "load", "save", "model_spec", "Trainer", "TrainConfig", "BatchRecord", "EpochRecord",
    "TrainingDiverged", "threads",
]
