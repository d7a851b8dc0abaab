"""Is it a digit, and is the network sure? The verdict the Draw view and ``mnist-desktop predict`` show.

A network trained on MNIST has ten outputs and no "none of these": a dot, a scribble or an X still gets
a digit, often at 99%. So the answer is checked before it is shown:

    out, feats = outputs_and_features(net, x)               # one forward pass: (N, 10), (N, D)
    v = assess(probs[0], image28, outputs=out[0], features=feats[0], calibration=cal, drawing=d)
    v.kind   # "digit" | "unsure" | "not_digit";  v.text: "3", "3 or 5?", "that doesn't look like a digit"

The rules, in order (the first that fires decides):

1. **Shape rules** (on the 28x28 image the network sees, and on the strokes when there are any); they
   need no model. Thresholds come from MNIST's 60,000 training digits, with a margin:
   - *a blob*: strokes thicker than ``MAX_THICKNESS`` pixels (2 x ink area / ink outline, at half ink;
     MNIST: median 2.0, 99.9% below 4.6). A dot or a coloured-in area is scaled up to 20 pixels and
     becomes a disc no digit looks like.
   - *specks*: less ink than ``MIN_INK`` (sum of the 28x28 pixels; MNIST: median 100, smallest 23).
   - *a flat line*: ink box height / width below ``MIN_ASPECT`` (MNIST: smallest 0.40; digits are taller
     than wide or nearly).
   - *a scribble* (drawings only): a pen path longer than ``MAX_PATH`` times the drawing's size (its long
     side plus the pen). The 1,000 drawn digits: median 2.3, largest 4.4; an 8 is about 4.
   - *a lone line* (drawings only): a single straight stroke leaning more than ``LINE_FROM_VERTICAL``
     degrees from the vertical (a straight stroke closer to vertical is a 1).
2. **The model's own scores**, when the model has a calibration (``calibrate``; shipped models carry one,
   ``mnist-desktop calibrate M.npz`` makes one for any model): its energy, ``-logsumexp(outputs)``
   (low when some digit's logit is large), and the Mahalanobis distance of its penultimate features (the
   input of the last dense layer) to the nearest class mean, with one covariance shared by the classes
   (Lee et al. 2018, "A simple unified framework for detecting out-of-distribution samples"). The
   limits are the ``ENERGY_QUANTILE`` and ``DISTANCE_QUANTILE`` quantiles of those scores over the 60,000
   MNIST training digits, computed per model, so 1 and 2 in 10,000 training digits exceed them: the rule
   means the same for any model. (Energy and distance at the 0.9998 quantile each gave 0.5% false
   alarms on the drawn digits, and the relative Mahalanobis distance more; the energy is kept for
   what the distance misses: scattered dots, zigzags.)
3. **Unsure**: the top probability is below ``UNSURE_BELOW``, or the runner-up is more than
   ``CLOSE_RATIO`` times as likely as the top digit: "3 or 5?".

False alarms and detection are measured by benchmarks/not_a_digit.py (MNIST test, the drawn digits, and
generated non-digits from mnist_desktop/nondigits.py). NumPy only; no Qt here.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .drawing import Drawing
from .engine.network import Network
from .fileio import atomic_write

# ---- the rules' constants ---------------------------------------------------------------------------

MAX_THICKNESS = 5.5     # 28x28 pixels; MNIST training digits: 99.9% <= 4.55
MIN_INK = 20.0          # sum of the 28x28 image; MNIST training digits: all >= 23.2
MIN_ASPECT = 0.35       # ink box height / width; MNIST training digits: all >= 0.40
MAX_PATH = 5.5          # pen path / drawing size; drawn digits: all <= 4.4
DISTANCE_QUANTILE = 0.9998  # the feature-distance limit: this quantile over the MNIST training digits
ENERGY_QUANTILE = 0.9999    # the energy limit: this quantile (2 and 1 in 10,000 training digits beyond)
LINE_FROM_VERTICAL = 40.0   # degrees: one straight stroke leaning further than this is no 1, and no digit
LINE_STRAIGHT = 0.08        # a stroke is straight if no point is further than this x its length from its chord
UNSURE_BELOW = 0.5      # top probability below this: unsure
CLOSE_RATIO = 1 / 3     # runner-up at least this fraction of the top probability: unsure
NAME_SECOND_ABOVE = 0.1 # an unsure answer names the runner-up ("3 or 5?") when it has at least this

NOT_A_DIGIT = "that doesn't look like a digit"
REASONS = {
    "blob": "a blob or a dot, not pen strokes",
    "specks": "only a few specks of ink",
    "flat": "a flat line",
    "line": "a single slanting line",
    "scribble": "a scribble",
    "unfamiliar": "unlike any digit this model learned",
}
CALIBRATION_SUFFIX = ".calib"


class CalibrationError(ValueError):
    """A calibration file that cannot be used; the message names the file and the problem."""

CALIBRATION_FORMAT = "mnist-desktop-calibration"


# ---- the network: outputs and penultimate features in one pass ----------------------------------------


def feature_layer(net: Network) -> int:
    """Index of the last dense layer: its input is the penultimate feature vector (the last layer with
    parameters if there is no dense layer)."""
    dense = [i for i, layer in enumerate(net.layers) if layer.kind == "dense"]
    if dense:
        return dense[-1]
    with_params = [i for i, layer in enumerate(net.layers) if layer.params]
    return with_params[-1] if with_params else len(net.layers) - 1


class CalibrationCancelled(Exception):
    """``should_stop`` said stop (a background calibration whose model was replaced, or the app closing)."""


def outputs_and_features(net: Network, x: np.ndarray, batch_size: int | None = None,
                         should_stop=None) -> tuple[np.ndarray, np.ndarray]:
    """x (N, 784) in [0, 1] -> (outputs (N, K) as ``net.forward`` gives them, features (N, D) float32:
    the input of the last dense layer), in inference mode (nothing kept for a backward pass), one pass,
    in chunks of ``batch_size`` images (default: the network's own inference chunk). ``should_stop()``
    is asked between chunks; True raises CalibrationCancelled."""
    x = np.asarray(x)
    cut = feature_layer(net)
    batch_size = batch_size or net.inference_chunk()
    outs, feats = [], []
    for start in range(0, max(len(x), 1), batch_size):
        if should_stop is not None and should_stop():
            raise CalibrationCancelled("stopped")
        h = net._as_input(x[start:start + batch_size])
        for i in net._order():                # the order forward runs them in (a ReLU after its max-pool)
            if i == cut:
                feats.append(h.reshape(len(h), -1).astype(np.float32, copy=True))
            h = net.layers[i].forward(h, False, False)
        outs.append(np.asarray(h))
    return np.concatenate(outs), np.concatenate(feats)


def energy(outputs: np.ndarray) -> np.ndarray:
    """(N, K) -> (N,): -logsumexp over the outputs; high (near or above 0) when no output stands out."""
    o = np.asarray(outputs, np.float64)
    m = o.max(axis=-1, keepdims=True)
    return -(m[..., 0] + np.log(np.exp(o - m).sum(axis=-1)))


# ---- calibration: per-model statistics of MNIST training digits ------------------------------------------


def model_digest(net: Network) -> str:
    """sha256 of the network's architecture and arrays: a calibration belongs to exactly these weights."""
    h = hashlib.sha256(repr(net.architecture()).encode())
    for name, a in sorted(net.arrays().items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Calibration:
    """What the model-score rules need for one model.

    means: (C, D) float32 class means (C = the classes present, normally 10) of the penultimate features; precision: (D, D) float32 inverse of
    the shared covariance (lightly regularised); energy_limit, distance_limit: the CAL_QUANTILE quantiles
    over the calibration digits; n: how many digits; digest: ``model_digest`` of the model.
    """

    means: np.ndarray
    precision: np.ndarray
    energy_limit: float
    distance_limit: float
    n: int
    digest: str

    def __post_init__(self) -> None:
        # float64 copies and each mean's m P m, once: per call they cost more than the distance itself
        P = self.precision.astype(np.float64)
        M = self.means.astype(np.float64)
        object.__setattr__(self, "_P", P)
        object.__setattr__(self, "_MP", M @ P)                       # (C, D): the means times P
        object.__setattr__(self, "_mPm", np.einsum("cd,cd->c", M @ P, M))

    def distance(self, features: np.ndarray) -> np.ndarray:
        """(N, D) or (D,) -> (N,) or (): squared Mahalanobis distance to the nearest class mean."""
        features = np.asarray(features)
        single = features.ndim == 1
        features = features.reshape(-1, self.means.shape[1])
        out = np.empty(len(features))
        for i in range(0, len(features), 4096):       # chunks: 60,000 x 512 float64 twice would be 500 MB
            f = features[i:i + 4096].astype(np.float64)
            # |f - m|^2_P = f P f - 2 m P f + m P m (P symmetric), ten m at once
            fPf = np.einsum("nd,nd->n", f @ self._P, f)
            out[i:i + 4096] = (fPf[:, None] - 2 * f @ self._MP.T + self._mPm[None, :]).min(axis=1)
        return out[0] if single else out

    def unfamiliar(self, outputs: np.ndarray, features: np.ndarray) -> np.ndarray | bool:
        """True where the energy or the feature distance is beyond its limit."""
        e = energy(outputs)
        return (e > self.energy_limit) | (self.distance(features) > self.distance_limit)

    # ---- file --------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """An .npz archive (whatever the name), written atomically."""
        buf = io.BytesIO()
        np.savez_compressed(buf, format=np.array(CALIBRATION_FORMAT), digest=np.array(self.digest),
                            means=self.means.astype(np.float32), precision=self.precision.astype(np.float32),
                            limits=np.array([self.energy_limit, self.distance_limit, self.n], np.float64))
        atomic_write(path, lambda f: f.write(buf.getvalue()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Calibration":
        """CalibrationError (a ValueError) with a readable reason for anything that is not a calibration
        file of ours."""
        path = Path(path)
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                if "format" not in z.files or str(z["format"][()]) != CALIBRATION_FORMAT:
                    raise CalibrationError(f"{path}: not a calibration file")
                means, precision = z["means"], z["precision"]
                limits = z["limits"]
                digest = str(z["digest"][()])
        except CalibrationError:
            raise
        except Exception as exc:  # noqa: BLE001 - zip, OS, pickle-refused and key errors all mean "unreadable"
            raise CalibrationError(f"{path}: not a readable calibration file ({type(exc).__name__}: {exc})") from None
        if (means.ndim != 2 or means.shape[0] < 2 or precision.shape != (means.shape[1],) * 2 or limits.shape != (3,)
                or not (np.isfinite(means).all() and np.isfinite(precision).all() and np.isfinite(limits).all())):
            raise CalibrationError(f"{path}: the calibration's arrays are inconsistent")
        return cls(means.astype(np.float32), precision.astype(np.float32), float(limits[0]), float(limits[1]),
                   int(limits[2]), digest)


def calibrate(net: Network, x: np.ndarray, y: np.ndarray, *, energy_quantile: float = ENERGY_QUANTILE,
              distance_quantile: float = DISTANCE_QUANTILE, ridge: float = 1e-3, should_stop=None) -> Calibration:
    """Class means, shared covariance and score limits from digits x (N, 784) in [0, 1] with labels y (N,):
    MNIST training digits, which the model learned from. ``ridge`` adds that fraction of the mean variance
    to the diagonal before inverting (features that never vary would make it singular). ``should_stop``:
    see ``outputs_and_features``."""
    y = np.asarray(y).astype(np.int64)
    if len(x) != len(y) or len(y) == 0:
        raise ValueError("calibration needs as many labels as images, and at least one image")
    if not (0.5 <= energy_quantile <= 1.0 and 0.5 <= distance_quantile <= 1.0):
        raise ValueError("quantiles must be in [0.5, 1]")
    out, f = outputs_and_features(net, x, should_stop=should_stop)
    means, precision = class_statistics(f, y, net.n_outputs, ridge)
    cal = Calibration(means, precision, 0.0, 0.0, len(y), model_digest(net))
    e_lim = float(np.quantile(energy(out), energy_quantile))
    d_lim = float(np.quantile(cal.distance(f), distance_quantile))
    return Calibration(cal.means, cal.precision, e_lim, d_lim, len(y), cal.digest)


def class_statistics(f: np.ndarray, y: np.ndarray, k: int, ridge: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Features f (N, D) with labels y (N,) -> (class means (C, D) of the C classes present, precision (D, D)
    of the shared covariance), both float32; see ``calibrate`` for ``ridge``."""
    present = [c for c in range(k) if (y == c).any()]
    if len(present) < 2:
        raise ValueError("calibration needs digits of at least two classes")
    means = np.zeros((k, f.shape[1]))
    cov = np.zeros((f.shape[1], f.shape[1]))
    for c in present:
        fc = f[y == c].astype(np.float64)
        means[c] = fc.mean(0)
        cov += (fc - means[c]).T @ (fc - means[c])
    cov /= len(y)
    cov += ridge * max(np.trace(cov) / len(cov), 1e-12) * np.eye(len(cov))
    # a class with no digits has no mean (it is never the nearest)
    return means[present].astype(np.float32), np.linalg.inv(cov).astype(np.float32)


def cached_calibration_path(folder: str | os.PathLike, net: Network) -> Path:
    """Where the window keeps a calibration it computed itself (models without a file beside them, or
    trained in the window): ``folder/<digest>.calib``, found again whatever the model file is called."""
    return Path(folder) / f"{model_digest(net)[:32]}{CALIBRATION_SUFFIX}"


def load_matching(path: str | os.PathLike, net: Network) -> Calibration | None:
    """The calibration at ``path`` if it reads and belongs to these weights, else None."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        cal = Calibration.load(path)
    except CalibrationError:
        return None
    if cal.digest != model_digest(net) or cal.means.shape[1] != _feature_size(net):
        return None
    return cal


def calibration_path(model_path: str | os.PathLike) -> Path:
    """Where a model's calibration lives: beside it, ``cnn.npz`` -> ``cnn.calib``."""
    return Path(model_path).with_suffix(CALIBRATION_SUFFIX)


def find_calibration(net: Network, model_path: str | os.PathLike | None) -> Calibration | None:
    """The calibration beside ``model_path`` if it exists, reads, and belongs to these weights (its digest
    matches: a retrained model's old calibration is ignored); else None."""
    return None if model_path is None else load_matching(calibration_path(model_path), net)


def _feature_size(net: Network) -> int:
    return math.prod(net.shapes[feature_layer(net)])


# ---- shape rules ------------------------------------------------------------------------------------


def stroke_thickness(image28: np.ndarray) -> float:
    """2 x area / outline length of the ink (pixels >= 0.5): a stroke's width, in 28x28 pixels."""
    b = np.asarray(image28).reshape(28, 28) >= 0.5
    area = int(b.sum())
    if area == 0:
        return 0.0
    p = np.pad(b, 1)
    outline = int((p[1:, :] != p[:-1, :]).sum() + (p[:, 1:] != p[:, :-1]).sum())
    return 2.0 * area / outline


def ink_aspect(image28: np.ndarray) -> float:
    """Height / width of the box holding the pixels at >= 25% of the brightest (inf for no ink)."""
    im = np.asarray(image28).reshape(28, 28)
    peak = float(im.max())
    if peak <= 0:
        return math.inf
    b = im >= 0.25 * peak
    rows, cols = np.flatnonzero(b.any(1)), np.flatnonzero(b.any(0))
    return (rows[-1] - rows[0] + 1) / (cols[-1] - cols[0] + 1)


def path_ratio(drawing: Drawing) -> float:
    """Length of the pen's path over the drawing's size (the long side of its points' box plus the pen)."""
    pts = [np.asarray(s, np.float64).reshape(-1, 2) for s in drawing.strokes if len(s)]
    if not pts:
        return 0.0
    allp = np.concatenate(pts)
    size = float(max(np.ptp(allp[:, 0]), np.ptp(allp[:, 1]))) + float(drawing.pen_width)
    length = sum(float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) for p in pts)
    return length / size


def is_lone_line(drawing: Drawing) -> bool:
    """One stroke (and nothing else), straight, leaning more than LINE_FROM_VERTICAL degrees."""
    strokes = [np.asarray(s, np.float64).reshape(-1, 2) for s in drawing.strokes if len(s)]
    if len(strokes) != 1 or len(strokes[0]) < 2:
        return False
    p = strokes[0]
    chord = p[-1] - p[0]
    length = float(np.hypot(*chord))
    if length < 1e-9:
        return False
    off = np.abs((p[:, 0] - p[0, 0]) * chord[1] - (p[:, 1] - p[0, 1]) * chord[0]) / length
    lean = math.degrees(math.atan2(abs(chord[0]), abs(chord[1])))       # 0 = vertical
    return float(off.max()) <= LINE_STRAIGHT * length and lean > LINE_FROM_VERTICAL


def shape_reason(image28: np.ndarray, drawing: Drawing | None = None) -> str | None:
    """The first shape rule that says "not a digit" (a key of REASONS), or None."""
    im = np.asarray(image28, np.float32).reshape(28, 28)
    if stroke_thickness(im) > MAX_THICKNESS:
        return "blob"
    if float(im.sum()) < MIN_INK:
        return "specks"
    if ink_aspect(im) < MIN_ASPECT:
        return "flat"
    if drawing is not None and path_ratio(drawing) > MAX_PATH:
        return "scribble"
    if drawing is not None and is_lone_line(drawing):
        return "line"
    return None


# ---- the verdict ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What to say about one input.

    kind: "digit" (a confident answer), "unsure" (top two close or top low), "not_digit".
    digit, second: the best and second-best digit; p_top, p_second: their probabilities.
    reason: for "not_digit" a key of REASONS; for "unsure" "low" or "close"; "" for "digit".
    calibrated: whether the model's own scores were checked (False: shape rules only).
    """

    kind: str
    digit: int
    second: int
    p_top: float
    p_second: float
    reason: str = ""
    calibrated: bool = False

    @property
    def text(self) -> str:
        """"3", "3 or 5?", "3?" or "that doesn't look like a digit"."""
        if self.kind == "not_digit":
            return NOT_A_DIGIT
        if self.kind == "unsure":
            return f"{self.digit} or {self.second}?" if self.p_second >= NAME_SECOND_ABOVE else f"{self.digit}?"
        return str(self.digit)

    @property
    def because(self) -> str:
        """Why, for people: "a scribble", "the network is not sure" ..."""
        if self.kind == "not_digit":
            return REASONS.get(self.reason, self.reason)
        if self.kind == "unsure":
            return (f"{self.digit} and {self.second} are close" if self.reason == "close"
                    else f"no digit gets more than {100 * self.p_top:.0f}%")
        return ""

    def as_dict(self) -> dict:
        return {"verdict": self.kind, "text": self.text, "reason": self.reason, "because": self.because,
                "calibrated": self.calibrated}


def unsure_reason(p_top: float, p_second: float) -> str:
    """"low", "close" or "" (sure)."""
    if p_top < UNSURE_BELOW:
        return "low"
    if p_second >= CLOSE_RATIO * p_top:
        return "close"
    return ""


def assess(probs: np.ndarray, image28: np.ndarray, *, outputs: np.ndarray | None = None,
           features: np.ndarray | None = None, calibration: Calibration | None = None,
           drawing: Drawing | None = None) -> Verdict:
    """The verdict for one input: probs (10,), the 28x28 image the network saw, and optionally the
    network's outputs (K,) and penultimate features (D,) with the model's calibration (the model-score
    rule), and the strokes (the scribble rule). See the module doc for the rules."""
    p = np.asarray(probs, np.float64).reshape(-1)
    order = np.argsort(-p, kind="stable")
    top, second = int(order[0]), int(order[1])
    pt, ps = float(p[top]), float(p[second])
    calibrated = calibration is not None and outputs is not None and features is not None
    reason = shape_reason(image28, drawing)
    if reason is None and calibrated and bool(calibration.unfamiliar(np.asarray(outputs)[None], features)):
        reason = "unfamiliar"
    if reason is not None:
        return Verdict("not_digit", top, second, pt, ps, reason, calibrated)
    why = unsure_reason(pt, ps)
    return Verdict("unsure" if why else "digit", top, second, pt, ps, why, calibrated)


def assess_batch(net: Network, images: np.ndarray, calibration: Calibration | None = None,
                 drawings: list | None = None) -> tuple[np.ndarray, list[Verdict]]:
    """images (N, 28, 28) or (N, 784) -> (probabilities (N, 10), verdicts): one network pass for all."""
    from .engine.losses import outputs_to_probabilities

    x = np.asarray(images, np.float32).reshape(len(images), -1)
    out, feats = outputs_and_features(net, x)
    probs = outputs_to_probabilities(out, net.loss)
    drawings = drawings if drawings is not None else [None] * len(x)
    verdicts = [assess(probs[i], x[i], outputs=out[i], features=feats[i], calibration=calibration,
                       drawing=drawings[i]) for i in range(len(x))]
    return probs, verdicts
