"""Teach a network someone's handwriting from a few examples of each digit.

    examples = Examples(images, labels)                       # (n, 784) float32 in [0, 1], (n,) int
    result = adapt(net, examples, replay=load_replay())        # a new network; ``net`` is untouched
    result.net.predict(images)                                 # reads this writer's digits
    spec = adapted_spec(result, base_spec, base_path)          # what its model file says about it
    check = cross_validate(net, examples, replay=...)          # honest before/after on the user's digits

The method (measured in benchmarks/personalize.py on ten writers, see README.md):

1. The network is cut in two: a *trunk* that stays frozen and a *head* that learns. The head is the last
   two dense layers with what lies between them (for the shipped CNN: fc 256, batch norm, ReLU, fc 10 on
   the 1,024 features of the convolutions; for the shipped MLP: the 512-512-10 part above the first
   hidden layer). Frozen convolutions and first layer keep what MNIST taught about strokes; the head
   re-weighs those strokes for this writer, and cheaply: the trunk runs once per image, forward only.
2. Each of the user's digits is augmented into ``copies`` variants (small rotation, scale, shift, stroke
   thickness), so three examples of a digit cover the ways that person writes it.
3. Every batch mixes the user's variants with *replay* digits from MNIST's training set (shipped with
   the package, ``mnist_desktop/data/replay_digits.npz``; 2,000 of the 3,000) whose targets are the base
   network's own outputs, so the head keeps reading ordinary digits. Half of the replay rows (``mix``)
   are blends of two replay digits' features with the base network's output on the blend as target:
   points between digits, where a changed boundary would flip MNIST test digits that the replay digits
   themselves (read with a wide margin) never show (``anchor``: an optional L2 pull toward the base
   weights, off by default).
4. Batch norm keeps its running statistics (inference mode throughout), so a batch made mostly of one
   writer's digits does not shift how every digit is normalised.
5. A *class-mean memory*: the mean features (the head's input: for the CNN the 1,024 outputs of the
   convolutions) of the user's variants of each digit, as a nearest-mean score, is added to the trained
   head's outputs with a weight. Up to a shift shared by all classes that score is linear in the
   features, so it rides on 20 more units of the head's first dense layer (``widen_with_memory``) and the
   result stays an ordinary model file. The weight cannot override ordinary digits: it starts at
   ``prototype`` (16) and steps down (``MEMORY_STEPS``; to 0 at the end) until blends of two of 1,000
   held-out MNIST training digits that the base network reads as different digits (``guard``: boundary
   cases) are read as the base network reads them ``agreement`` (90%) of the time, the held-out
   digits themselves ``guard_agreement`` (99.5%) of the time, and all 3,000 replay digits, each distorted
   once about as hard as MNIST's test digits are (``test_like``; shipped in the same file), change their
   reading no more than 0.8 times as often as the base network misreads them (``test_flips``: 8 of 3,000
   for the shipped CNN, 52 for the MLP). That last check is what holds MNIST's test accuracy when a
   writer's digits are far from MNIST's: with only the first two, a strongly slanted and turned version of
   the ten dev writers cost the CNN up to 0.7 point on MNIST's test set (benchmarks/personalize.py
   ``--distort``, README.md). The 0.8 is a margin for the check's own noise (3,000 digits; one more flip
   is 0.03 point): with 1, a still stronger distortion left one adapted CNN at 99.36%.

The trunk's features of the replay digits depend only on the base network, so they are kept for the last
few base networks (``REPLAY_CACHE_SIZE``): adapting the same model again computes only the user's digits.

No Qt here: the window and ``mnist-desktop adapt`` call the same functions. Images come from
``preprocess.to_mnist`` (drawings rendered by ``app.imageio``), exactly what ``predict`` feeds the network.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import threading
import time
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mnist_desktop.confidence import model_digest
from mnist_desktop.data.augment import augment_batch
from mnist_desktop.engine.losses import LOSSES, softmax
from mnist_desktop.engine.network import Network
from mnist_desktop.engine.optim import Adam

METHOD = "head-finetune+mixup-replay+feature-memory"
METHOD_VERSION = 5
# fractions of ``prototype`` the guard tries, largest first
MEMORY_STEPS = (1, 7 / 8, 3 / 4, 5 / 8, 9 / 16, 1 / 2, 7 / 16, 3 / 8, 5 / 16, 1 / 4, 3 / 16, 1 / 8, 1 / 16)
GUARD_BLENDS = 3000                                           # pairs of guard digits blended to check the memory
# the test-like guard: every replay digit distorted once, about as hard as MNIST's test digits are for a
# network trained on its training digits (the shipped CNN reads 99.6% of them right, 99.7% of the test set)
TEST_LIKE = {"ops": ["rotate", "shift", "scale", "thickness", "shear"], "max_angle": 15.0, "max_shift": 2.0,
             "scale_range": (0.85, 1.15), "max_thickness": 1.0, "max_shear": 0.3}
TEST_LIKE_SEED = 11
REPLAY_CACHE_SIZE = 2        # base networks whose replay features are kept (~25 MB each for the shipped CNN)
REPLAY_FILE = Path(__file__).resolve().parent / "data" / "replay_digits.npz"
DIGITS = 10

Progress = Callable[[int, int, str], None]      # (done, total, what) -> None
ShouldStop = Callable[[], bool]


class AdaptError(ValueError):
    """Adaptation cannot run: no examples, a model it cannot adapt, a damaged replay file..."""


class AdaptCancelled(Exception):
    """``should_stop`` said stop; nothing was produced."""


@dataclass
class AdaptSettings:
    """How to adapt; the defaults are the measured choice (benchmarks/personalize.py)."""

    copies: int = 16                 # augmented variants of each user example (the original is one of them)
    steps: int = 120                 # optimizer steps
    user_batch: int = 32             # user variants per step
    replay_batch: int = 128          # replay digits per step
    replay: int = 2000               # replay digits trained on (of the 3,000 shipped; the rest guard the memory)
    lr: float = 1e-3                 # Adam
    anchor: float = 0.0              # L2 pull toward the base weights (per step: grad += anchor * (W - W0))
    distill: float = 1.0             # replay targets: (1 - distill) * label + distill * the base network's output
    mix: float = 0.5                 # share of each replay batch made of two replay digits' features blended
                                     # (mixup), with the base network's output on the blend as the target
    max_angle: float = 12.0          # augmentation of the user's digits
    max_shift: float = 1.5
    scale_range: tuple[float, float] = (0.88, 1.12)
    max_thickness: float = 0.7
    augment: tuple[str, ...] = ("rotate", "shift", "scale", "thickness")   # data.augment operations
    max_shear: float = 0.25
    elastic_px: float = 1.0
    prototype: float = 16.0          # largest weight of the class-mean memory folded into the head (0: none)
    agreement: float = 0.9           # the memory's weight steps down (MEMORY_STEPS) until blends of two guard
                                     # digits of different digits (boundary cases) are read as the base
                                     # network reads them at least this often (ordinary digits stay put)
    guard_agreement: float = 0.995   # ... and the guard digits themselves at least this often
    test_flips: float = 0.8          # ... and of the replay digits distorted as hard test digits are (``test_like``),
                                     # it may change the reading of no more than this x as many as the base network
                                     # misreads: the check that keeps MNIST's test digits put when the writer's
                                     # digits are far from MNIST's (the two above are too easy for that); below 1,
                                     # a margin for the check's own sampling noise
    guard: int = 1000                # replay digits not trained on, that check the memory
    seed: int = 0

    def validate(self) -> None:
        if not self.test_flips >= 0:
            raise ValueError(f"test_flips must be >= 0, got {self.test_flips}")
        for name in ("copies", "steps", "user_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.replay < 0 or self.replay_batch < 0:
            raise ValueError("replay and replay_batch must be >= 0")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if self.anchor < 0:
            raise ValueError(f"anchor must be >= 0, got {self.anchor}")
        if not 0 <= self.mix <= 1:
            raise ValueError(f"mix must be between 0 and 1, got {self.mix}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scale_range"] = list(self.scale_range)
        d["augment"] = list(self.augment)
        return d


@dataclass
class Examples:
    """The user's digits: images (n, 784) float32 in [0, 1] (what ``to_mnist`` gives), labels (n,) int."""

    images: np.ndarray
    labels: np.ndarray
    names: list[str] = field(default_factory=list)   # where each came from (file names), optional

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images, np.float32)
        self.images = self.images.reshape(len(self.images), 784 if self.images.size == 0 else -1)
        self.labels = np.asarray(self.labels, np.int64).reshape(-1)
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if self.images.shape[1] != 784 and len(self.images):
            raise ValueError(f"examples must be 28x28 images, got {self.images.shape[1]} pixels each")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() > 9):
            raise ValueError("labels must be digits 0-9")

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> np.ndarray:
        """(10,) examples per digit."""
        return np.bincount(self.labels, minlength=DIGITS)

    def subset(self, idx) -> "Examples":
        idx = np.asarray(idx)
        names = [self.names[i] for i in idx] if self.names else []
        return Examples(self.images[idx], self.labels[idx], names)


@dataclass
class Replay:
    """MNIST training digits mixed into adaptation: images (n, 784) float32, labels (n,) int64; and their
    test-like versions (``test_like``) when the file holds them (else computed on first use)."""

    images: np.ndarray
    labels: np.ndarray
    source: str = ""
    test_images: np.ndarray | None = None

    def test_like_images(self) -> np.ndarray:
        """(n, 784) float32: ``test_images``, or ``test_like(images)`` computed once."""
        if self.test_images is None:
            self.test_images = test_like(self.images)
        return self.test_images

    def digest(self) -> str:
        """A hash of the images and labels (computed once): what the feature cache knows them by. Test-like
        images from the file are hashed too; computed ones follow from the images."""
        if getattr(self, "_digest", None) is None:
            h = hashlib.blake2b(digest_size=16)
            for a in (self.images, self.labels) + (() if self.test_images is None else (self.test_images,)):
                h.update(f"{a.dtype}:{a.shape}".encode())
                h.update(np.ascontiguousarray(a).data)
            self._digest = h.hexdigest()
        return self._digest


def load_replay(path: str | Path = REPLAY_FILE) -> Replay:
    """The replay digits shipped with the package (3,000 MNIST training digits, 300 of each, as uint8), and
    their test-like versions (``test_like``, uint8) if the file has them: computing those takes 0.1-0.3 s,
    which every first adaptation of a model would otherwise pay (``scripts/replay_file.py`` writes them)."""
    path = Path(path)
    fix = "; reinstalling mnist-desktop restores it" if path == REPLAY_FILE else ""
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:   # the file closes on any error
            images, labels = z["images"], z["labels"]
            tests = z["test_like"] if "test_like" in z.files else None
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise AdaptError(f"{path}: the replay digits cannot be read ({exc}){fix}") from None
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 784 or len(labels) != len(images):
        raise AdaptError(f"{path}: the replay digits are not (n, 784) uint8 images with n labels{fix}")
    if tests is not None and (tests.dtype != np.uint8 or tests.shape != images.shape):
        raise AdaptError(f"{path}: the test-like digits are not uint8 images of the replay digits' shape{fix}")
    return Replay(images.astype(np.float32) / 255, labels.astype(np.int64), str(path),
                  None if tests is None else tests.astype(np.float32) / 255)


# ---- where the network is cut ----------------------------------------------------------------------

def head_start(net: Network) -> int:
    """Index of the first layer that adapts: the second-to-last dense layer (the last one if the network
    has only one), never before the last convolution, pooling or reshape."""
    dense = [i for i, layer in enumerate(net.layers) if layer.kind == "dense"]
    if not dense:
        raise AdaptError("this network has no dense layer to adapt")
    start = dense[-2] if len(dense) >= 2 else dense[-1]
    after_conv = max((i + 1 for i, l in enumerate(net.layers) if l.kind in ("conv2d", "maxpool2d", "reshape", "flatten")),
                     default=0)
    return max(start, min(after_conv, dense[-1]))


def check_adaptable(net: Network) -> None:
    """AdaptError saying why, if ``net`` cannot be adapted (not 784 inputs and 10 outputs, no dense layer)."""
    if net.n_outputs != DIGITS:
        raise AdaptError(f"only a network with 10 outputs (one per digit) can be adapted; this one has {net.n_outputs}")
    if math.prod(net.input_shape) != 784:
        raise AdaptError(f"only a network with 784 inputs (28x28) can be adapted; this one takes {net.input_shape}")
    head_start(net)


def trunk_features(net: Network, start: int, x: np.ndarray, chunk: int = 256,
                   should_stop: ShouldStop | None = None, done: Callable[[int], None] | None = None) -> np.ndarray:
    """x (N, 784) -> the input of layer ``start`` (N, d), inference mode, ``chunk`` images at a time;
    ``should_stop()`` asked before each chunk, ``done(n)`` told after it (n: its images)."""
    x = np.asarray(x, net.dtype)
    if start == 0:
        if done is not None and len(x):
            done(len(x))
        return x.reshape(len(x), -1).copy()
    out = None
    for i in range(0, len(x), chunk):
        if should_stop is not None and should_stop():
            raise AdaptCancelled()
        h = net._as_input(x[i:i + chunk])
        for layer in net.layers[:start]:
            h = layer.forward(h, False, False)
        h = h.reshape(len(h), -1)
        if out is None:
            out = np.empty((len(x), h.shape[1]), net.dtype)
        out[i:i + chunk] = h
        if done is not None:
            done(len(h))
    return out if out is not None else np.zeros((0, 0), net.dtype)


class _Count:
    """Progress of the "features" phase over several blocks of images."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def add(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total, "features")


def test_like(images: np.ndarray) -> np.ndarray:
    """Replay digits distorted once each (``TEST_LIKE``, a fixed seed): what the test-like guard reads."""
    params = {k: v for k, v in TEST_LIKE.items() if k != "ops"}
    return augment_batch(images, np.random.default_rng(TEST_LIKE_SEED), TEST_LIKE["ops"], **params)


@dataclass
class ReplayFeatures:
    """What adaptation needs of the replay digits that depends only on the base network: the trunk's
    features (the head's input) of the replay digits and of their test-like versions (``test_like``), and
    the base network's outputs for both."""

    feats: np.ndarray
    outputs: np.ndarray
    test_feats: np.ndarray
    test_outputs: np.ndarray


# Kept for the last few base networks (REPLAY_CACHE_SIZE), so adapting the same model again (more examples,
# the before/after check) computes only the user's digits; one computation at a time: a second caller
# (an Adapt click while the window prepares the same model) waits for the first and takes its result.
_replay_cache: dict[tuple, ReplayFeatures] = {}
_replay_cache_lock = threading.Lock()
_replay_compute_lock = threading.Lock()


def _cached(key: tuple) -> ReplayFeatures | None:
    with _replay_cache_lock:
        found = _replay_cache.pop(key, None)
        if found is not None:
            _replay_cache[key] = found          # most recently used last
        return found


def clear_replay_cache() -> None:
    """Forget every base network's ``ReplayFeatures`` (the next adaptation computes them again): for
    measuring a first adaptation, and for tests."""
    with _replay_cache_lock:
        _replay_cache.clear()


def replay_key(net: Network, replay: Replay) -> tuple:
    """What the cache knows a base network's ``ReplayFeatures`` by: the digest its calibration is known by
    (``confidence.model_digest``: its layers and weights), its dtype (the features' own) and a hash of the
    replay digits."""
    return model_digest(net), str(net.dtype), replay.digest()


def is_prepared(key: tuple) -> bool:
    """Whether ``replay_features`` has the ``ReplayFeatures`` of ``key`` ready (nothing left to compute)."""
    with _replay_cache_lock:
        return key in _replay_cache


def replay_features(net: Network, replay: Replay, *, key: tuple | None = None, count: "_Count | None" = None,
                    should_stop: ShouldStop | None = None, trunk: Network | None = None) -> ReplayFeatures:
    """``ReplayFeatures`` of ``net`` (from the cache, else computed and kept); AdaptCancelled if
    ``should_stop()`` says so meanwhile. The window calls it ahead of Adapt, so the first click is quick.
    ``trunk``: ``net.inference_copy()`` when the caller has made one already."""
    key = key or replay_key(net, replay)
    found = _cached(key)
    if found is not None:
        return found
    while not _replay_compute_lock.acquire(timeout=0.05):
        if should_stop is not None and should_stop():
            raise AdaptCancelled()
    try:
        found = _cached(key)
        if found is None:
            done = count.add if count is not None else None
            trunk = trunk if trunk is not None else net.inference_copy()
            start = head_start(trunk)
            head = net.layers[head_start(net):]
            feats = trunk_features(trunk, start, replay.images, 64, should_stop, done)
            test_feats = trunk_features(trunk, start, replay.test_like_images(), 64, should_stop, done)
            found = ReplayFeatures(feats, _head_outputs(head, feats), test_feats, _head_outputs(head, test_feats))
            with _replay_cache_lock:
                _replay_cache[key] = found
                while len(_replay_cache) > REPLAY_CACHE_SIZE:
                    del _replay_cache[next(iter(_replay_cache))]
        return found
    finally:
        _replay_compute_lock.release()


def augment_examples(images: np.ndarray, copies: int, settings: AdaptSettings,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n, 784) -> (n * copies, 784) variants, the originals first; and (n * copies,) source index."""
    n = len(images)
    src = np.tile(np.arange(n), copies)
    variants = np.empty((n * copies, images.shape[1]), np.float32)
    variants[:n] = images
    if copies > 1:
        variants[n:] = augment_batch(images[src[n:]], rng, list(settings.augment),
                                     max_angle=settings.max_angle, max_shift=settings.max_shift,
                                     scale_range=settings.scale_range, max_thickness=settings.max_thickness,
                                     max_shear=settings.max_shear, elastic_px=settings.elastic_px)
    return variants, src


def soft_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """logits (N, K), targets (N, K) rows summing to 1 -> (mean cross-entropy, dlogits (N, K))."""
    n = len(logits)
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = float(-(targets * logp).sum() / n)
    return loss, ((np.exp(logp) - targets) / n).astype(logits.dtype)


# ---- the adaptation ----------------------------------------------------------------------------------

@dataclass
class AdaptResult:
    net: Network
    base_net: Network
    settings: AdaptSettings
    n_examples: int
    counts: list[int]                # per digit
    head_start: int
    seconds: float
    final_loss: float
    memory_weight: float = 0.0       # the class-mean memory's weight folded into the last layer (see fold_memory)


class _Prepared:
    """Trunk features of the user's variants and of the replay digits: computed once, reused by every
    fit of a cross-validation (the trunk never changes)."""

    def __init__(self, net: Network, examples: Examples, replay: Replay | None, settings: AdaptSettings,
                 progress: Progress | None, should_stop: ShouldStop | None) -> None:
        settings.validate()
        if len(examples) == 0:
            raise AdaptError("no examples to adapt to: add some of your digits first")
        check_adaptable(net)
        self.net, self.examples, self.settings = net, examples, settings
        self.start = head_start(net)
        rng = np.random.default_rng(settings.seed)
        self.rng = rng
        variants, self.src = augment_examples(examples.images, settings.copies, settings, rng)
        # the trunk runs in inference mode only: its batch norms folded into the convolutions (faster,
        # same outputs); the cut is at the same dense layer (folding removes no dense layer)
        trunk = net.inference_copy()
        trunk_start = head_start(trunk)
        use_replay = replay is not None and settings.replay > 0 and settings.replay_batch > 0
        key = replay_key(net, replay) if use_replay else None
        count = _Count(progress, len(variants) + (2 * len(replay.labels) if use_replay and not is_prepared(key) else 0))
        self.u_feats = trunk_features(trunk, trunk_start, variants, 64, should_stop, count.add)
        self.u_labels = examples.labels[self.src]
        empty = np.zeros((0, self.u_feats.shape[1]), net.dtype)
        self.r_labels, r_out = np.zeros(0, np.int64), np.zeros((0, DIGITS), net.dtype)
        self.r_feats = self.g_feats = self.t_feats = empty   # training replay, guard digits, test-like digits
        self.g_base = self.t_base = np.zeros(0, np.int64)
        if use_replay:
            known = replay_features(net, replay, key=key, count=count, should_stop=should_stop, trunk=trunk)
            order = rng.permutation(len(replay.labels))
            pick, rest = order[:settings.replay], order[settings.replay:settings.replay + settings.guard]
            self.r_feats, self.r_labels, r_out = known.feats[pick], replay.labels[pick], known.outputs[pick]
            self.g_feats, self.g_base = known.feats[rest], known.outputs[rest].argmax(1)   # kept out of training
            self.t_feats, self.t_base = known.test_feats, known.test_outputs.argmax(1)
        head = net.layers[self.start:]
        # the share of them whose reading the memory must keep: 1 - test_flips x the base network's error on them
        self.t_agreement = (max(0.0, 1.0 - settings.test_flips * float(np.mean(self.t_base != replay.labels)))
                            if len(self.t_feats) else 1.0)
        # the memory's guard: blends of two guard digits the base network reads as different digits, halfway
        # or so between them: near its decision boundaries, where a change of reading shows first
        self.g_blends, self.g_blends_base = self.g_feats[:0], self.g_base[:0]
        if len(self.g_feats) >= 2:
            a, b = rng.integers(0, len(self.g_feats), (2, GUARD_BLENDS))
            pair = self.g_base[a] != self.g_base[b]
            t = rng.uniform(0.3, 0.7, (GUARD_BLENDS, 1)).astype(net.dtype)
            self.g_blends = (t * self.g_feats[a] + (1 - t) * self.g_feats[b])[pair]
            self.g_blends_base = _head_outputs(head, self.g_blends).argmax(1)
        # replay targets: the label, blended with what the base network answers (its soft output keeps
        # the head's whole function on ordinary digits, not only its argmax)
        self.r_targets = np.eye(DIGITS, dtype=np.float32)[self.r_labels]
        if settings.distill and len(self.r_labels) and net.loss == "ce":
            self.r_targets = ((1 - settings.distill) * self.r_targets
                              + settings.distill * softmax(r_out.astype(np.float64)).astype(np.float32))

    def fold_memory(self, net: Network, uf: np.ndarray, ul: np.ndarray) -> tuple[Network, float]:
        """The trained network with the class-mean memory of the user's variants (``memory_terms`` on the
        head's input features ``uf``) folded in at the largest weight of ``prototype`` x MEMORY_STEPS for
        which the guard's blends (boundary cases between MNIST digits the head did not train on) are
        still read as the base network reads them ``agreement`` of the time, and the guard digits
        themselves ``guard_agreement`` of the time; the network unchanged (weight 0) if none is.
        -> (network, weight)."""
        s = self.settings
        if not s.prototype or not len(ul):
            return net, 0.0
        head = net.layers[self.start:]
        widen = can_widen(head)
        space = uf if widen else _penultimate(head, uf)
        W, b = memory_terms(space, ul)
        checks = []   # (head outputs, memory scores, the base network's readings, share that must agree)
        for feats, base, share in ((self.g_blends, self.g_blends_base, s.agreement),
                                   (self.g_feats, self.g_base, s.guard_agreement),
                                   (self.t_feats, self.t_base, self.t_agreement)):
            if len(feats):
                g = feats if widen else _penultimate(head, feats)
                checks.append((_head_outputs(head, feats).astype(np.float64), g.astype(np.float64) @ W + b,
                               base, share))
        # a share the trained head alone (weight 0) already misses is asked of the memory as that head's own
        weight = next((s.prototype * f for f in MEMORY_STEPS
                       if all(np.mean((out + s.prototype * f * mem).argmax(1) == base)
                              >= min(share, np.mean(out.argmax(1) == base))
                              for out, mem, base, share in checks)), 0.0)
        if not weight:
            return net, 0.0
        if widen:
            return widen_with_memory(net, self.start, W, b, weight), weight
        _add_to_last(head[-1], W, b, weight)
        return net, weight

    def _batches(self, rng: np.random.Generator, uf: np.ndarray, ul: np.ndarray, steps: int, ub: int, rb: int,
                 blend: int, soft: bool, block: int = 20):
        """Each step's rows: ``ub`` user variants, then ``rb`` replay digits of which the first ``blend``
        are blends of two. Yields (head inputs, labels, soft targets or None): the user's labels, the
        replay digits' targets, the base network's answer for each blend. Built ``block`` steps at a time
        with one call per array instead of a dozen per step: in the window the adaptation shares the
        GIL with the Draw view, and there every call costs a wait."""
        nr, d = len(self.r_labels), uf.shape[1]
        onehot = np.eye(DIGITS, dtype=np.float32)
        for first in range(0, steps, block):
            k = min(block, steps - first)
            ui = rng.integers(0, len(uf), (k, ub))
            x = np.empty((k, ub + rb, d), uf.dtype)
            y = np.empty((k, ub + rb), np.int64)
            x[:, :ub], y[:, :ub] = uf[ui], ul[ui]
            if rb:
                ri = rng.integers(0, nr, (k, rb))
                x[:, ub:], y[:, ub:] = self.r_feats[ri], self.r_labels[ri]
                if blend:
                    t = rng.random((k, blend, 1)).astype(uf.dtype)
                    x[:, ub:ub + blend] *= t
                    x[:, ub:ub + blend] += (1 - t) * self.r_feats[rng.integers(0, nr, (k, blend))]
            targets = None
            if soft:
                targets = np.empty((k, ub + rb, DIGITS), np.float32)
                targets[:, :ub] = onehot[ul[ui]]
                if rb:
                    targets[:, ub:] = self.r_targets[ri]
                    if blend:
                        out = _head_outputs(self.net.layers[self.start:], x[:, ub:ub + blend].reshape(-1, d))
                        targets[:, ub:ub + blend] = softmax(out.astype(np.float64)).reshape(k, blend, DIGITS)
            for j in range(k):
                yield x[j], y[j], None if targets is None else targets[j]

    def fit(self, keep: np.ndarray | None = None, progress: Progress | None = None,
            should_stop: ShouldStop | None = None, seed_offset: int = 0) -> tuple[Network, float]:
        """A copy of the network whose head learned from the examples ``keep`` (indices; all if None)."""
        s = self.settings
        rows = np.arange(len(self.src)) if keep is None else np.flatnonzero(np.isin(self.src, keep))
        if len(rows) == 0:
            raise AdaptError("no examples left to adapt to")
        uf, ul = self.u_feats[rows], self.u_labels[rows]
        net = self.net.copy()
        head = net.layers[self.start:]
        slots = [(f"{i}.{k}", p, layer.grads[k], k == "W")
                 for i, layer in enumerate(head) for k, p in layer.params.items()]
        base = [p.copy() for _, p, _, _ in slots]
        scratch = [np.empty_like(p) for p in base]
        opt = Adam(slots, s.lr)
        loss_fn = LOSSES[net.loss]
        rng = np.random.default_rng(s.seed + 1 + seed_offset)
        loss = float("nan")
        ub, rb = min(s.user_batch, len(uf)), min(s.replay_batch, len(self.r_labels))
        blend = int(round(rb * s.mix)) if net.loss == "ce" else 0
        for step, (xb, yb, targets) in enumerate(self._batches(rng, uf, ul, s.steps, ub, rb, blend, net.loss == "ce")):
            if should_stop is not None and should_stop():
                raise AdaptCancelled()
            h = xb
            for layer in head:
                h = layer.forward(h, False, True)   # inference mode: batch norm keeps its statistics
            loss, d = soft_cross_entropy(h, targets) if targets is not None else loss_fn(h, yb)
            for j in range(len(head) - 1, -1, -1):
                d = head[j].backward(d, need_dx=j > 0)
            if s.anchor:
                for (_, p, g, _), p0, t in zip(slots, base, scratch):
                    np.subtract(p, p0, out=t)
                    t *= s.anchor
                    g += t
            opt.step()
            if progress is not None and (step % 10 == 9 or step == s.steps - 1):
                progress(step + 1, s.steps, "training")
        if not all(np.isfinite(p).all() for _, p, _, _ in slots):
            raise AdaptError("adaptation diverged (the weights overflowed); the base model is unchanged")
        net, self.memory_weight = self.fold_memory(net, uf, ul)
        return net, float(loss)


def _head_outputs(head: list, feats: np.ndarray) -> np.ndarray:
    h = feats
    for layer in head:
        h = layer.forward(h, False, False)
    return h


def _penultimate(head: list, feats: np.ndarray) -> np.ndarray:
    """The head's input features -> the input of its last layer."""
    return _head_outputs(head[:-1], feats)


def memory_terms(feats: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A nearest-class-mean memory as a linear score: features (n, D) of the user's variants -> W (D, 10), b (10,).

    Class c's memory score of features f is -|f - m_c|^2 / (2 s), m_c the mean of that digit's variants, s
    the mean squared distance of a variant to its own mean. Up to -|f|^2 / (2 s), the same for every class
    (softmax ignores it), that is f . m_c / s - |m_c|^2 / (2 s) = f W + b. Digits without examples get the
    average of the others' terms."""
    h = np.asarray(feats, np.float64)
    present = np.unique(labels)
    means = np.stack([h[labels == c].mean(0) for c in present])          # (C, D)
    s = float(np.mean(((h - means[np.searchsorted(present, labels)]) ** 2).sum(1))) or 1.0
    W = np.zeros((h.shape[1], DIGITS))
    b = np.zeros(DIGITS)
    W[:, present] = means.T / s
    b[present] = -(means ** 2).sum(1) / (2 * s)
    absent = np.setdiff1d(np.arange(DIGITS), present)
    W[:, absent] = W[:, present].mean(1, keepdims=True)
    b[absent] = b[present].mean()
    return W, b


def fold_prototypes(head: list, feats: np.ndarray, labels: np.ndarray, weight: float) -> None:
    """Add ``weight`` x the class-mean memory of the penultimate features (the last layer's input) of
    ``feats`` (the head's input) to the head's last (dense) layer, in place: the memory where the head
    cannot be widened (``can_widen``)."""
    if head[-1].kind != "dense" or not len(labels):
        return
    _add_to_last(head[-1], *memory_terms(_penultimate(head, feats), labels), weight)


def _add_to_last(last, W: np.ndarray, b: np.ndarray, weight: float) -> None:
    """The last (dense) layer's outputs plus ``weight`` x (its input W + b), in place."""
    last.params["W"] += (weight * W).astype(last.params["W"].dtype)
    last.params["b"] += (weight * b).astype(last.params["b"].dtype)


def can_widen(head: list) -> bool:
    """Whether ``widen_with_memory`` can carry a memory of the head's input features: the head is a dense
    layer, then only batch norm, ReLU and dropout (ReLU at least once), then the last dense layer."""
    middle = [layer.kind for layer in head[1:-1]]
    return (len(head) >= 3 and head[0].kind == "dense" and head[-1].kind == "dense" and "relu" in middle
            and set(middle) <= {"batchnorm", "relu", "dropout"})


def widen_with_memory(net: Network, start: int, W: np.ndarray, b: np.ndarray, weight: float) -> Network:
    """A copy of ``net`` whose head (layers ``start``..., see ``can_widen``) also adds ``weight`` x (f W + b)
    to its outputs, f the head's input features: a memory the last layer alone could not hold (it sees only
    the penultimate features). The head's first dense layer gets 20 more units, f W and -f W; the ReLU
    passes one of each pair (u = relu(u) - relu(-u)), the batch norms pass them unchanged (scale 1, shift 0),
    and the last layer adds weight x (the first - the second) to each digit's output, weight x b to its bias.
    An ordinary model file, 20 units wider; the outputs are the same as the memory beside the network."""
    from mnist_desktop.engine.layers import BatchNorm

    arch = net.architecture()
    arch["layers"][start]["units"] += 2 * DIGITS
    new = Network.from_architecture(arch, rng=np.random.default_rng(0), dtype=net.dtype)
    first, last = net.layers[start], net.layers[-1]
    eye = np.eye(DIGITS)
    arrays = net.arrays()
    arrays[f"{start}.W"] = np.concatenate([first.params["W"], W, -W], axis=1)
    arrays[f"{start}.b"] = np.concatenate([first.params["b"], np.zeros(2 * DIGITS)])
    for i in range(start + 1, len(net.layers) - 1):
        layer = net.layers[i]
        if isinstance(layer, BatchNorm):
            extra = {"gamma": 1.0, "beta": 0.0, "mean": 0.0, "var": 1.0 - layer.eps}
            for k, v in extra.items():
                arrays[f"{i}.{k}"] = np.concatenate([arrays[f"{i}.{k}"], np.full(2 * DIGITS, v)])
    n = len(net.layers) - 1
    arrays[f"{n}.W"] = np.concatenate([last.params["W"], weight * eye, -weight * eye])
    arrays[f"{n}.b"] = last.params["b"] + weight * b
    new.set_arrays({k: np.asarray(v, new.dtype) for k, v in arrays.items()})
    return new


def adapt(net: Network, examples: Examples, *, replay: Replay | None = None,
          settings: AdaptSettings | None = None, progress: Progress | None = None,
          should_stop: ShouldStop | None = None) -> AdaptResult:
    """Adapt a copy of ``net`` to ``examples``; ``net`` itself is never modified.

    progress(done, total, phase) is called with phase "features" then "training"; ``should_stop()`` is
    asked between chunks and steps (AdaptCancelled when it says yes)."""
    settings = settings or AdaptSettings()
    t0 = time.perf_counter()
    prep = _Prepared(net, examples, replay, settings, progress, should_stop)
    new, loss = prep.fit(progress=progress, should_stop=should_stop)
    return AdaptResult(new, net, settings, len(examples), [int(c) for c in examples.counts()], prep.start,
                       time.perf_counter() - t0, loss, prep.memory_weight)


# ---- honest before / after --------------------------------------------------------------------------

@dataclass
class CrossValidation:
    """Each of the user's digits scored by the base network and by a network adapted WITHOUT that digit
    (k-fold across the collection: the digit is never among the examples of the model that reads it).

    before, after: (n,) predicted digits; labels: (n,); folds: number of folds."""

    labels: np.ndarray
    before: np.ndarray
    after: np.ndarray
    folds: int

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def before_accuracy(self) -> float:
        return float(np.mean(self.before == self.labels)) if self.n else float("nan")

    @property
    def after_accuracy(self) -> float:
        return float(np.mean(self.after == self.labels)) if self.n else float("nan")

    @property
    def fixed(self) -> np.ndarray:
        """Indices of the digits the base network read wrong and the adapted one reads right."""
        return np.flatnonzero((self.before != self.labels) & (self.after == self.labels))

    @property
    def broken(self) -> np.ndarray:
        """Indices of the digits the base network read right and the adapted one reads wrong."""
        return np.flatnonzero((self.before == self.labels) & (self.after != self.labels))

    def to_dict(self) -> dict:
        return {"folds": self.folds, "n": self.n, "before": self.before_accuracy, "after": self.after_accuracy,
                "fixed": len(self.fixed), "broken": len(self.broken)}


def fold_assignment(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """(n,) fold number of each example: each digit's examples dealt round-robin over the folds in a
    random order, so every fold holds about the same share of each digit."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), np.int64)
    offset = 0
    for d in range(DIGITS):
        idx = np.flatnonzero(labels == d)
        rng.shuffle(idx)
        fold[idx] = (np.arange(len(idx)) + offset) % folds
        offset += len(idx)
    return fold


def _head_predict(net: Network, start: int, feats: np.ndarray) -> np.ndarray:
    h = feats
    for layer in net.layers[start:]:
        h = layer.forward(h, False, False)
    return h.argmax(axis=1)


def cross_validate(net: Network, examples: Examples, *, replay: Replay | None = None,
                   settings: AdaptSettings | None = None, folds: int = 4, progress: Progress | None = None,
                   should_stop: ShouldStop | None = None) -> CrossValidation:
    """k-fold before/after accuracy on the user's own digits (``folds`` capped at the number of examples:
    leave-one-out for small collections). The trunk features are computed once for all folds."""
    settings = settings or AdaptSettings()
    if len(examples) < 2:
        raise AdaptError("scoring needs at least two examples (each is read by a model adapted to the others)")
    folds = max(2, min(folds, len(examples)))
    prep = _Prepared(net, examples, replay, settings, None, should_stop)
    n = len(examples)
    originals = prep.u_feats[:n]                    # the first n variants are the examples themselves
    before = _head_predict(net, prep.start, originals)
    after = np.empty(n, np.int64)
    fold = fold_assignment(examples.labels, folds, settings.seed)
    for f in range(folds):
        held = np.flatnonzero(fold == f)
        adapted, _ = prep.fit(np.flatnonzero(fold != f), should_stop=should_stop, seed_offset=f)
        after[held] = _head_predict(adapted, prep.start, originals[held])
        if progress is not None:
            progress(f + 1, folds, "cross-validation")
    return CrossValidation(examples.labels.copy(), before, after, folds)


# ---- model files -----------------------------------------------------------------------------------

def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def adapted_spec(result: AdaptResult, base_spec: dict, base_path: str | Path | None, *, name: str | None = None,
                 test_accuracy: float | None = None, check: dict | None = None) -> dict:
    """The spec of an adapted model: a normal model spec (so predict, evaluate and the window use it like
    any other) plus ``adaptation``: the method, the base model (name, file, sha256), the number of examples
    per digit, the settings, and what was measured (``check``: cross-validation, MNIST test)."""
    from mnist_desktop.engine.serialize import model_spec

    base_name = str(base_spec.get("name") or (Path(base_path).stem if base_path else "model"))
    base = {"name": base_name, "path": str(Path(base_path).resolve()) if base_path else None,
            "sha256": file_sha256(base_path) if base_path and Path(base_path).is_file() else None,
            "description": base_spec.get("description"), "test_accuracy": base_spec.get("test_accuracy")}
    adaptation = {
        "method": METHOD,
        "method_version": METHOD_VERSION,
        "base": base,
        "examples": result.n_examples,
        "per_digit": result.counts,
        "adapted_layers": f"{result.head_start}-{len(result.net.layers) - 1}",
        "settings": result.settings.to_dict(),
        "memory_weight": result.memory_weight,
        "memory_units": _units(result.net, result.head_start) - _units(result.base_net, result.head_start),
        "seconds": round(result.seconds, 2),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if check:
        adaptation["check"] = check
    return model_spec(result.net, name=name or f"{base_name}-mine",
                      training=base_spec.get("training") if isinstance(base_spec.get("training"), dict) else {},
                      test_accuracy=test_accuracy, dataset=base_spec.get("dataset", "mnist"),
                      adaptation=adaptation)


def _units(net: Network, i: int) -> int:
    return int(getattr(net.layers[i], "units", 0))


def is_adapted(spec: dict) -> bool:
    return isinstance(spec.get("adaptation"), dict)


def base_model_path(spec: dict) -> Path | None:
    """For an adapted model's spec: the file of the model it was adapted from, if that file is still there
    and unchanged (sha256); None otherwise (and for a model that is not adapted)."""
    if not is_adapted(spec):
        return None
    base = spec["adaptation"].get("base") or {}
    path = base.get("path")
    if not isinstance(path, str) or not Path(path).is_file():
        return None
    sha = base.get("sha256")
    if sha and file_sha256(path) != sha:
        return None
    return Path(path)


# ---- labelled drawing files ------------------------------------------------------------------------

def label_from_name(path: str | Path) -> int | None:
    """The digit after the last underscore of the file name (``0042_7.json`` -> 7), else None."""
    stem = Path(path).stem
    if "_" not in stem:
        return None
    tail = stem.rsplit("_", 1)[1]
    return int(tail) if len(tail) == 1 and tail.isdigit() else None


def drawing_label(path: str | Path, obj: dict | None = None) -> int:
    """A drawing file's label: its ``"label"`` key, else the digit after the last underscore of its name;
    ValueError naming the file when it has neither (or a bad one)."""
    path = Path(path)
    if obj is None:
        try:
            obj = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read ({exc})") from None
    if isinstance(obj, dict) and "label" in obj:
        label = obj["label"]
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
            raise ValueError(f"{path}: \"label\" must be a digit 0-9, got {label!r}")
        return label
    label = label_from_name(path)
    if label is None:
        raise ValueError(f"{path}: no label: add \"label\": <digit> to the file or name it like 0042_7.json")
    return label


def drawing_files(paths) -> list[Path]:
    """Files and folders -> the drawing files (*.json) they name, folders searched (not recursively),
    sorted; ValueError for a path that does not exist."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(f for f in p.glob("*.json") if f.is_file()))
        elif p.exists():
            out.append(p)
        else:
            raise ValueError(f"{p}: no such file or folder")
    return out


def labelled_drawing_json(drawing, label: int) -> str:
    """A drawing's JSON (the usual format) with an integer ``"label"`` key added."""
    from mnist_desktop.drawing import drawing_to_json

    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= int(label) <= 9:
        raise ValueError(f"label must be a digit 0-9, got {label!r}")
    obj = json.loads(drawing_to_json(drawing))
    obj["label"] = int(label)
    return json.dumps(obj, separators=(",", ":"))


def examples_from_files(paths, to_image: Callable[[Path], np.ndarray | None]) -> tuple[Examples, list[str]]:
    """Labelled drawing files -> (Examples, one-line errors). ``to_image(path)`` turns a file into its
    28x28 image (None: blank), e.g. ``lambda p: app.imageio.preprocess_file(p).image``: rendering needs
    Qt, this module does not. A file that cannot be read, has no label or no ink is an error naming it."""
    images, labels, names, errors = [], [], [], []
    for path in paths:
        path = Path(path)
        try:
            raw = path.read_bytes()
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = None
            label = drawing_label(path, obj if isinstance(obj, dict) else {})
            image = to_image(path)
            if image is None:
                raise ValueError(f"{path}: blank: no ink found")
        except (ValueError, OSError) as exc:
            msg = str(exc) if isinstance(exc, ValueError) else f"{path}: cannot read ({exc.strerror or exc})"
            errors.append(msg if msg.startswith(str(path)) else f"{path}: {msg}")
            continue
        images.append(np.asarray(image, np.float32).reshape(784))
        labels.append(label)
        names.append(str(path))
    ex = Examples(np.array(images, np.float32).reshape(-1, 784), np.array(labels, np.int64), names)
    return ex, errors
