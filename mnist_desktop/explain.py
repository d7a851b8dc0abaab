"""What does the network think a 3 looks like? Three pictures of what a trained network learned (NumPy only).

``backproject`` -- the write-up's picture. Take the one-hot output for a digit and push it backwards
    through the transposed weights: for a 784-H-10 MLP, ``hidden = W2^T onehot``, ``input = W1^T hidden``.
    Each input pixel gets the sum, over every path from that pixel to the digit's output, of the product of
    the weights on the path: how much ink on that pixel pushes the digit's score up (red) or down (blue),
    if every unit were linear. It is *not* a drawing of a digit: it shows which pixels tell this digit
    apart from the others. Ink that every digit shares (the centre) scores about zero, and the places where
    *other* digits have ink and this one has none are strongly negative. That is why it looks like noise
    to many readers: it is a map of evidence, not an image.
    Exactly, it is the backward pass with the slope of every activation taken as 1 and biases ignored:
    a linear layer's transpose for every layer (``linear_backward``), so it works for MLPs of any depth and
    for CNNs:
      dense            d W^T
      conv2d           transposed convolution (the conv's input gradient, no ReLU gating)
      maxpool2d        the gradient is spread evenly over each window (d / s^2 to each of the s*s inputs):
                       the transpose of average pooling. Max pooling routes it to the winner of each window,
                       but which pixel wins depends on an input, and a back-projection has no input; spread
                       evenly is what the winner would get on average if every position won equally often.
                       Rows/columns dropped by an odd size get 0.
      batchnorm        its inference-time affine scale, gamma / sqrt(running var + eps)
      relu, sigmoid,   slope 1 (identity)
      tanh, dropout
      reshape, flatten reshape back
``maximize`` -- activation maximisation: start from a faint random image and climb the gradient of the
    digit's score (the log-odds of its probability by default, or its logit) with respect to the pixels, keeping
    the pixels in [0, 1], pulling them towards 0 (L2) and blurring a little at every step, so the result
    is a smooth image the network is sure about, made only of valid pixels. The steps shrink to nothing
    (a cosine schedule), so the image settles instead of hopping between answers; it is computed in
    float64 (the same image however many BLAS or engine threads run) and scaled at the end so its
    brightest pixel is 1, as an MNIST digit's is. This one can be fed back in: it is the network's own idea
    of an ideal digit.
``saliency`` -- |d score / d pixel| for one real image: which pixels of *this* drawing the decision is most
    sensitive to (the Draw view's overlay, "gradient"). It lights the empty gaps between strokes as much
    as the ink: it says where ink *would* change the score, not which ink did.
``attribution`` -- which ink decided: "strokes" is gradient x input of the digit's log-odds (the ink on a
    pixel times how much that ink raises the digit against its rivals), positive part; black pixels get
    exactly 0, so it lands on the strokes. "integrated" is integrated gradients (Sundararajan et al.
    2017) from a black image, the same but averaged along the path (more passes). benchmarks/attribution.py
    measures how much of each map falls on ink and how much the score drops when its top pixels are erased.

``first_layer`` / ``first_conv_maps`` -- the first layer as pictures: an MLP's hidden units as 28x28
    weight images, a CNN's filters, and what each filter finds in one image (its feature maps).

``feed_back`` classifies an imagined image (see ``as_input`` for how a signed back-projection becomes a
valid input), and ``imagine_all`` does both for the ten digits at once.

The functions run the network's forward/backward passes, which keep per-layer caches: give them a
``net.copy()`` when another thread may be using the same network at the same time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .engine.network import Network
from .preprocess import Preprocessed, net_map_to_input

METHODS = ("backproject", "maximize")
IMAGE_SHAPE = (28, 28)
FIRST_LAYER_LIMIT = 64   # first-layer units / filters returned by first_layer and first_conv_maps

# Defaults of ``maximize``, tuned by eye on a 784-128-128-10 ReLU MLP (98.1% test accuracy) and a small
# CNN (conv 8@5x5, pool, conv 16@5x5, pool, fc 64; 98.6%): l2 0.05 keeps only the ink that earns its
# place, blur 0.5 px per step turns speckle into strokes. With a constant step the shipped CNN's "1" kept
# hopping between 1 and 3 to the last step (read as 3 with one BLAS thread, as 1 with two); the cosine
# schedule lets it settle: all ten of the shipped CNN and MLP are read as the digit asked for with
# p >= 0.99 (tests/test_shipped_models.py; benchmarks/explain_speed.py prints them).
GRID = 2.0 ** 16         # maximize keeps its pixels on this grid (see maximize_batch)
MAXIMIZE_DEFAULTS = {"steps": 200, "lr": 0.02, "l2": 0.02, "smooth": 0.5, "jitter": 1, "objective": "log_odds"}


# ---- linear backward pass (slopes 1) ---------------------------------------------------------------


def _dense_t(layer, d, in_shape):
    return d @ layer.params["W"].T.astype(d.dtype, copy=False)          # (N, units) -> (N, n_in)


def _identity(layer, d, in_shape):
    return d


def _reshape_back(layer, d, in_shape):
    return d.reshape((d.shape[0], *in_shape))


def _conv_t(layer, d, in_shape):
    """Transposed convolution: (N, Ho, Wo, F) -> (N, H, W, C), the conv's input gradient."""
    k, p = layer.kernel, layer.pad
    W = layer.params["W"].astype(d.dtype, copy=False)                   # (k, k, C, F)
    n, ho, wo, f = d.shape
    c = W.shape[2]
    dcols = (d.reshape(-1, f) @ W.reshape(k * k * c, f).T).reshape(n, ho, wo, k, k, c)
    dxp = np.zeros((n, ho + k - 1, wo + k - 1, c), d.dtype)            # the padded input
    for i in range(k):
        for j in range(k):
            dxp[:, i:i + ho, j:j + wo, :] += dcols[:, :, :, i, j, :]
    h, w = in_shape[0], in_shape[1]
    return dxp[:, p:p + h, p:p + w, :]


def _pool_spread(layer, d, in_shape):
    """(N, Ho, Wo, C) -> (N, H, W, C): each window's value shared evenly, d / s^2 to each pixel."""
    s = layer.size
    n, ho, wo, c = d.shape
    dx = np.zeros((n, *in_shape), d.dtype)
    dx[:, :ho * s, :wo * s, :] = np.repeat(np.repeat(d, s, axis=1), s, axis=2) / (s * s)
    return dx


def _batchnorm_scale(layer, d, in_shape):
    inv = 1.0 / np.sqrt(layer.buffers["var"].astype(np.float64) + layer.eps)
    return d * (layer.params["gamma"] * inv).astype(d.dtype)


LINEAR_BACKWARD = {
    "dense": _dense_t,
    "conv2d": _conv_t,
    "maxpool2d": _pool_spread,
    "batchnorm": _batchnorm_scale,
    "relu": _identity, "sigmoid": _identity, "tanh": _identity, "dropout": _identity,
    "reshape": _reshape_back, "flatten": _reshape_back,
}


def linear_backward(layer, d: np.ndarray, in_shape: tuple[int, ...]) -> np.ndarray:
    """One layer of the back-projection: d (N, *out_shape) -> (N, *in_shape), the transpose of the layer
    with every activation's slope taken as 1 and biases ignored. ``in_shape`` is the layer's per-example
    input shape (``net.shapes[i]``). A layer kind without a rule raises ValueError."""
    rule = LINEAR_BACKWARD.get(layer.kind)
    if rule is None:
        raise ValueError(f"back-projection does not know layer type {layer.kind!r}")
    return rule(layer, d, tuple(in_shape))


def _check_digits(net: Network, digits) -> np.ndarray:
    if math.prod(net.input_shape) != math.prod(IMAGE_SHAPE):
        raise ValueError(f"imagining needs a network with 784 inputs (28x28 pixels), this one has "
                         f"{math.prod(net.input_shape)}")
    digits = np.atleast_1d(np.asarray(digits))
    if digits.dtype.kind not in "iu" or digits.size == 0 or (digits < 0).any() or (digits >= net.n_outputs).any():
        raise ValueError(f"digit must be a whole number from 0 to {net.n_outputs - 1}, got {digits.tolist()}")
    return digits.astype(np.int64)


def _normalise_signed(v: np.ndarray) -> np.ndarray:
    """(N, 784) -> (N, 28, 28) float32, each divided by its max |v| (all-zero rows stay zero)."""
    m = np.abs(v).max(axis=1, keepdims=True)
    v = np.divide(v, m, out=np.zeros_like(v), where=m > 0)
    return v.reshape(-1, *IMAGE_SHAPE).astype(np.float32)


def backproject_batch(net: Network, digits) -> np.ndarray:
    """digits (B,) -> (B, 28, 28) float32 signed back-projections, each normalised to max |v| = 1."""
    digits = _check_digits(net, digits)
    d = np.zeros((len(digits), net.n_outputs), net.dtype)
    d[np.arange(len(digits)), digits] = 1
    for i in range(len(net.layers) - 1, -1, -1):
        d = linear_backward(net.layers[i], d, net.shapes[i])
    return _normalise_signed(d.reshape(len(digits), -1))


def backproject(net: Network, digit: int) -> np.ndarray:
    """The one-hot output for ``digit`` pushed back through the transposed layers (see the module doc):
    (28, 28) float32, signed, normalised to max |v| = 1 (positive: ink there is evidence *for* the digit)."""
    return backproject_batch(net, [digit])[0]


# ---- activation maximisation -----------------------------------------------------------------------


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """(N, H, W) -> (N, H, W): separable Gaussian blur, zero outside the image (a black MNIST border)."""
    if sigma <= 0:
        return x
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(x.dtype)
    n, h, w = x.shape
    p = np.zeros((n, h + 2 * r, w), x.dtype)
    p[:, r:r + h] = x
    y = sum(k[i] * p[:, i:i + h] for i in range(2 * r + 1))             # along rows
    p = np.zeros((n, h, w + 2 * r), x.dtype)
    p[:, :, r:r + w] = y
    return sum(k[i] * p[:, :, i:i + w] for i in range(2 * r + 1))       # along columns


def _shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(N, H, W) shifted by (dy, dx) pixels with zero fill (not a roll: nothing wraps around)."""
    out = np.zeros_like(x)
    h, w = x.shape[1:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


OBJECTIVES = ("log_odds", "logit")


def score_gradient(outputs: np.ndarray, digits: np.ndarray, loss: str, objective: str = "log_odds") -> np.ndarray:
    """d score / d outputs for each row: outputs (B, K), digits (B,) -> (B, K).

    ``"logit"``: the digit's own output (the logit of a 'ce' network, the sigmoid output of an 'mse' one).
    ``"log_odds"``: log(p / (1 - p)) of the probability the network reports for the digit. For 'ce' that
    is ``logit_d - logsumexp(other logits)``, gradient ``onehot_d - softmax over the other logits``: it
    raises the digit *and* lowers its strongest rivals, and unlike log p it does not flatten out as p
    nears 1. For 'mse' (probabilities = outputs / their sum) it is ``log a_d - log(sum of the others)``.
    """
    b, k = outputs.shape
    rows = np.arange(b)
    dout = np.zeros((b, k), np.float64)
    if objective == "logit":
        dout[rows, digits] = 1.0
        return dout
    if objective != "log_odds":
        raise ValueError(f"unknown objective {objective!r} (expected one of {', '.join(OBJECTIVES)})")
    o = outputs.astype(np.float64)
    if loss == "ce":
        others = o.copy()
        others[rows, digits] = -np.inf
        q = np.exp(others - others.max(axis=1, keepdims=True))
        dout = -q / q.sum(axis=1, keepdims=True)
        dout[rows, digits] = 1.0
    else:
        a = np.maximum(o, 1e-6)                        # sigmoid outputs, kept away from 0 for the logs
        rest = a.sum(axis=1) - a[rows, digits]
        dout = -np.ones_like(a) / rest[:, None]
        dout[rows, digits] = 1.0 / a[rows, digits]
    return dout


def maximize_batch(net: Network, digits, *, steps: int = MAXIMIZE_DEFAULTS["steps"],
                   lr: float = MAXIMIZE_DEFAULTS["lr"], l2: float = MAXIMIZE_DEFAULTS["l2"],
                   smooth: float = MAXIMIZE_DEFAULTS["smooth"], jitter: int = MAXIMIZE_DEFAULTS["jitter"],
                   objective: str = MAXIMIZE_DEFAULTS["objective"], seed: int = 0) -> np.ndarray:
    """digits (B,) -> (B, 28, 28) float32 images in [0, 1]; see ``maximize``. The images are optimised
    together (one batched pass per step) but independently: row b is what ``maximize(net, digits[b])``
    returns, since each start comes from ``default_rng([seed, digit])`` (equal up to float rounding).
    ``net`` is not touched: the work runs on a float64 copy (batch norms folded), so a network another
    thread uses is safe, and rounding cannot tip the result one way or the other with the thread count."""
    digits = _check_digits(net, digits)
    steps, jitter = int(steps), int(jitter)
    if steps < 0 or not lr > 0 or l2 < 0 or smooth < 0 or jitter < 0:
        raise ValueError("maximize needs steps >= 0, lr > 0, l2 >= 0, smooth >= 0, jitter >= 0")
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r} (expected one of {', '.join(OBJECTIVES)})")
    b = len(digits)
    # float64 (rounding differences ~1e-16, far below the pixel grid of step 4); folded batch norms: faster
    work = net.copy().astype(np.float64).inference_copy()
    # a faint random start, the same for a digit whatever batch it is in
    x = np.stack([np.random.default_rng([seed, int(d)]).uniform(0.0, 0.1, IMAGE_SHAPE) for d in digits])
    jitter_rng = np.random.default_rng([seed, 10_000])
    for t in range(steps):
        # 0) cosine schedule: full steps first, shrinking to nothing, so the image settles; the decay
        #    and the blur shrink with the step (per unit of step they stay the same prior)
        f = 0.5 * (1.0 + math.cos(math.pi * t / steps))
        # 1) gradient of the score at a randomly shifted copy, shifted back: features that survive
        #    a pixel of jitter, not single-pixel tricks. forward + backward(need_input_grad) is
        #    net.input_gradient, split so the score's gradient can depend on the outputs.
        dy, dx = jitter_rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0)
        out = work.forward(_shift(x, dy, dx).reshape(b, -1), training=False)
        dout = score_gradient(out, digits, work.loss, objective)
        g = _shift(work.backward(dout, need_input_grad=True).reshape(x.shape), -dy, -dx)
        # 2) normalised step: lr is then a fraction of the pixel range whatever the network's scale
        rms = np.sqrt(np.mean(g * g, axis=(1, 2), keepdims=True))
        x += f * lr * np.divide(g, rms, out=np.zeros_like(g), where=rms > 0)
        # 3) regularise: L2 decay towards black, a light blur (its variance grows with the step),
        #    and valid pixels only
        x *= 1.0 - f * l2
        x = gaussian_blur(x, smooth * math.sqrt(f))
        np.clip(x, 0.0, 1.0, out=x)
        # 4) pixels on a grid of 2^-16: the last bits of a product differ with how BLAS splits it between
        #    threads or how many images share a batch (~1e-16), and an ascent can carry such a difference
        #    to another image; rounded away every step, every thread count gives the same image
        x = np.round(x * GRID) / GRID
    # 5) MNIST's brightest ink is 1: scale each image so its brightest pixel is, so the picture shown and
    #    the one fed back are the same (a faint image is read less surely than the same strokes in full)
    top = x.max(axis=(1, 2), keepdims=True)
    x = np.divide(x, top, out=np.zeros_like(x), where=top > 0)
    return x.astype(np.float32)


def maximize(net: Network, digit: int, *, steps: int = MAXIMIZE_DEFAULTS["steps"],
             lr: float = MAXIMIZE_DEFAULTS["lr"], l2: float = MAXIMIZE_DEFAULTS["l2"],
             smooth: float = MAXIMIZE_DEFAULTS["smooth"], jitter: int = MAXIMIZE_DEFAULTS["jitter"],
             objective: str = MAXIMIZE_DEFAULTS["objective"], seed: int = 0) -> np.ndarray:
    """Activation maximisation: (28, 28) float32 image in [0, 1] that the network reads as ``digit``.

    Gradient ascent on the pixels for the digit's score (``objective``: ``"log_odds"`` of its
    probability, the default, or its raw ``"logit"``; see ``score_gradient``), ``steps`` times: a step of
    ``f lr`` times the gradient divided by its RMS; then ``x *= 1 - f l2`` (L2 decay: only ink that earns
    its place stays), a Gaussian blur of sigma ``sqrt(f) smooth`` pixels (smoothness: strokes, not
    speckle), clip to [0, 1]; ``f`` falls from 1 to 0 along a cosine, so the image settles. The gradient
    is taken at a copy shifted by up to ``jitter`` pixels. At the end the image is scaled so its
    brightest pixel is 1. The start is uniform noise in [0, 0.1] from ``seed``; the result is
    deterministic for a given seed, whatever the number of threads (float64 work).

    Why log-odds by default: the raw logit can also be raised by ink that raises a rival's logit more
    (a 9 that grows into an 8); the log-odds pays for that, so the image is read as the digit asked for.
    """
    return maximize_batch(net, [digit], steps=steps, lr=lr, l2=l2, smooth=smooth, jitter=jitter,
                          objective=objective, seed=seed)[0]


# ---- saliency --------------------------------------------------------------------------------------


def saliency(net: Network, image: np.ndarray, digit: int | None = None) -> np.ndarray:
    """|d score / d pixel| for ``image`` (28, 28) or (784,) in [0, 1] and the predicted digit (or
    ``digit``): (28, 28) float32 >= 0, normalised to max 1 (a network that ignores the image gives
    all zeros)."""
    x = np.asarray(image, dtype=net.dtype)
    if x.size != math.prod(IMAGE_SHAPE):
        raise ValueError(f"saliency needs a 28x28 image, got shape {x.shape}")
    x = x.reshape(1, -1)
    if digit is None:
        digit = int(np.argmax(net.forward(x)[0]))
    digit = int(_check_digits(net, [digit])[0])
    dout = np.zeros((1, net.n_outputs), net.dtype)
    dout[0, digit] = 1
    g = np.abs(net.input_gradient(x, dout).reshape(1, -1)).astype(np.float64)
    return _normalise_signed(g)[0]


ATTRIBUTIONS = ("strokes", "integrated", "gradient")
ATTRIBUTION_LABELS = {
    "strokes": "ink x gradient (the strokes that decided)",
    "integrated": "integrated gradients (the strokes that decided, slower)",
    "gradient": "|gradient| (where ink would change the score)",
}
INTEGRATED_STEPS = 16


def _as_28(net: Network, image: np.ndarray) -> np.ndarray:
    x = np.asarray(image, dtype=net.dtype)
    if x.size != math.prod(IMAGE_SHAPE):
        raise ValueError(f"attribution needs a 28x28 image, got shape {x.shape}")
    return x.reshape(1, -1)


def log_odds_gradient(net: Network, x: np.ndarray, digit: int) -> np.ndarray:
    """x (B, 784) -> (B, 784): d log-odds(digit) / d x at each row (see ``score_gradient``)."""
    out = net.forward(x, training=False)
    dout = score_gradient(out, np.full(len(x), digit), net.loss, "log_odds").astype(net.dtype)
    return net.backward(dout, need_input_grad=True).reshape(len(x), -1).astype(np.float64)


def attribution(net: Network, image: np.ndarray, digit: int | None = None, method: str = "strokes", *,
                steps: int = INTEGRATED_STEPS) -> np.ndarray:
    """(28, 28) float32 >= 0 with max 1 (all zeros if nothing counts): how much each pixel counted for
    ``digit`` (default: the predicted one). ``method``: "strokes" (gradient x input of the log-odds,
    positive part), "integrated" (integrated gradients from black, ``steps`` points on the path, positive
    part) or "gradient" (``saliency``: |d logit / d pixel|)."""
    if method not in ATTRIBUTIONS:
        raise ValueError(f"unknown attribution {method!r} (expected one of {', '.join(ATTRIBUTIONS)})")
    x = _as_28(net, image)
    if digit is None:
        digit = int(np.argmax(net.forward(x)[0]))
    digit = int(_check_digits(net, [digit])[0])
    if method == "gradient":
        return saliency(net, image, digit)
    if method == "strokes":
        a = x.astype(np.float64) * log_odds_gradient(net, x, digit)
    else:
        alphas = (np.arange(steps, dtype=np.float64) + 0.5) / steps           # midpoint rule on (0, 1]
        path = (alphas[:, None] * x.astype(np.float64)).astype(net.dtype)     # (steps, 784)
        a = x.astype(np.float64) * log_odds_gradient(net, path, digit).mean(axis=0, keepdims=True)
    return _normalise_signed(np.maximum(a, 0.0))[0]


def saliency_on_input(net: Network, pre: Preprocessed, digit: int | None = None, *, smooth: float = 0.0,
                      max_side: int | None = None, method: str = "gradient") -> tuple[np.ndarray, np.ndarray]:
    """The saliency of a preprocessed drawing, on the network's input and back on the drawing itself.

    -> (sal (28, 28) float32, on_input (oh, ow) float32), both >= 0 with max 1 (all zeros if the network
    ignores the image). ``sal`` is ``saliency(net, pre.image, digit)``, Gaussian-blurred by ``smooth``
    pixels if > 0 (raw input gradients alternate from pixel to pixel; a pixel of blur shows the regions
    that matter instead of the speckle) and renormalised. ``on_input`` is ``sal`` carried back through the
    preprocessing (``preprocess.net_map_to_input``) onto ``pre.gray``'s area, at its size or at most
    ``max_side`` pixels on the long side (an overlay for a photo need not be big). ``method`` picks the map
    (``attribution``): "gradient" (|d score / d pixel|, the default), "strokes" or "integrated".
    """
    sal = _normalise_signed(gaussian_blur(attribution(net, pre.image, digit, method)[None], smooth).reshape(1, -1))[0]
    H, W = pre.gray.shape
    shrink = 1.0 if max_side is None else min(1.0, max_side / max(H, W))
    out_shape = (max(1, round(H * shrink)), max(1, round(W * shrink)))
    back = net_map_to_input(pre, sal, out_shape)
    peak = float(back.max())
    return sal, (back / peak if peak > 0 else back).astype(np.float32)


# ---- feeding imagined images back ------------------------------------------------------------------


def as_input(image: np.ndarray) -> np.ndarray:
    """An imagined image -> a valid network input (28, 28) float32 in [0, 1].

    A signed back-projection (any value < 0) is an evidence map, not pixels: its positive part (where ink
    counts *for* the digit) is kept and rescaled so its largest value is 1; the negative evidence becomes
    black (no ink). An image already made of pixels (no negative value, e.g. from ``maximize``) is only
    clipped to [0, 1]. A back-projection with no negative value is normalised to max 1 already, so both
    rules agree on it.
    """
    v = np.nan_to_num(np.asarray(image, dtype=np.float64).reshape(IMAGE_SHAPE))
    if (v < 0).any():
        v = np.maximum(v, 0.0)
        m = v.max()
        v = v / m if m > 0 else v
    return np.clip(v, 0.0, 1.0).astype(np.float32)


def feed_back(net: Network, image: np.ndarray) -> np.ndarray:
    """How the network classifies an imagined image: (10,) probabilities of ``as_input(image)``."""
    return net.predict_proba(as_input(image).reshape(1, -1))[0]


@dataclass(frozen=True, eq=False)  # eq on arrays would be ambiguous; compare fields explicitly
class Imagined:
    digit: int                  # the digit asked for
    method: str                 # "backproject" or "maximize"
    image: np.ndarray           # (28, 28) float32: signed in [-1, 1] (backproject) or pixels in [0, 1]
    probabilities: np.ndarray   # (10,) what the network says about as_input(image)
    predicted: int              # argmax of probabilities

    @property
    def probability(self) -> float:
        """The network's probability for the digit that was asked for."""
        return float(self.probabilities[self.digit])

    @property
    def recognised(self) -> bool:
        return self.predicted == self.digit


def imagine(net: Network, digit: int, method: str = "backproject", **kw) -> np.ndarray:
    """(28, 28) float32: ``backproject(net, digit)`` or ``maximize(net, digit, **kw)``."""
    if method == "backproject":
        if kw:
            raise TypeError(f"backproject takes no options, got {', '.join(kw)}")
        return backproject(net, digit)
    if method == "maximize":
        return maximize(net, digit, **kw)
    raise ValueError(f"unknown method {method!r} (expected one of {', '.join(METHODS)})")


def imagine_all(net: Network, method: str = "backproject", **kw) -> list[Imagined]:
    """The ten digits (every output of the network), each imagined and fed back through the network."""
    digits = np.arange(net.n_outputs)
    if method == "backproject":
        if kw:
            raise TypeError(f"backproject takes no options, got {', '.join(kw)}")
        images = backproject_batch(net, digits)
    elif method == "maximize":
        images = maximize_batch(net, digits, **kw)
    else:
        raise ValueError(f"unknown method {method!r} (expected one of {', '.join(METHODS)})")
    probs = net.predict_proba(np.stack([as_input(im) for im in images]).reshape(len(digits), -1))
    return [Imagined(int(d), method, images[d], probs[d], int(np.argmax(probs[d]))) for d in digits]


# ---- the first layer, as pictures ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FirstLayer:
    """The first weighted layer, as pictures.

    kind: "dense" (tiles are 28x28: unit j's 784 incoming weights) or "conv2d" (tiles are k x k filters).
    tiles: (K, h, w) float32, signed, K = min(total, limit). total: units or filters in the layer.
    index: the layer's position in ``net.layers``.
    """

    kind: str
    tiles: np.ndarray
    total: int
    index: int


def first_layer(net: Network, limit: int = FIRST_LAYER_LIMIT) -> FirstLayer | None:
    """The first dense or conv2d layer's weights as (K, h, w) tiles; None if they are not pictures
    (a dense layer whose input is not 28x28 pixels, a convolution over more than one channel)."""
    for i, layer in enumerate(net.layers):
        if layer.kind == "dense":
            W = layer.params["W"]                                  # (n_in, units)
            if W.shape[0] != 784:
                return None
            return FirstLayer("dense", np.ascontiguousarray(W[:, :limit].T).reshape(-1, 28, 28).astype(np.float32),
                              W.shape[1], i)
        if layer.kind == "conv2d":
            W = layer.params["W"]                                  # (k, k, C, F)
            if W.shape[2] != 1:
                return None
            return FirstLayer("conv2d", np.ascontiguousarray(W[:, :, 0, :limit].transpose(2, 0, 1)).astype(np.float32),
                              W.shape[3], i)
    return None


@dataclass(frozen=True, eq=False)
class FeatureMaps:
    """What the first convolution's filters find in one image.

    maps: (F, H, W) float32, one map per filter. stage: the layers they come out of, e.g.
    "conv2d > batchnorm > relu" (the maps the next layer receives). signed: False after a ReLU.
    """

    maps: np.ndarray
    stage: str
    signed: bool


def first_conv_maps(net: Network, image: np.ndarray, limit: int = FIRST_LAYER_LIMIT) -> FeatureMaps | None:
    """image (28, 28) in [0, 1] -> the first conv layer's feature maps, taken after the batch norm and
    activation that follow it (before pooling); None for a network without a convolution.

    Runs the first layers' forward passes (inference mode), so it touches their caches: call it on the
    thread that owns ``net``."""
    x = np.asarray(image, dtype=net.dtype).reshape(1, *net.input_shape)
    stage: list[str] = []
    for layer in net.layers:
        if stage and layer.kind not in ("batchnorm", "relu", "sigmoid", "tanh"):
            break
        if not stage and layer.kind in ("dense", "flatten"):
            return None
        x = layer.forward(x, training=False, keep=False)
        if layer.kind == "conv2d" or stage:
            stage.append(layer.kind)
        if stage and layer.kind in ("relu", "sigmoid", "tanh"):
            break
    if not stage:
        return None
    maps = np.ascontiguousarray(x[0, :, :, :limit].transpose(2, 0, 1)).astype(np.float32)   # (F, H, W)
    return FeatureMaps(maps, " > ".join(stage), signed=stage[-1] not in ("relu", "sigmoid"))


def first_layer_kind(net: Network) -> str | None:
    """"dense" or "conv2d": the kind of the first weighted layer (None if there is none)."""
    for layer in net.layers:
        if layer.kind in ("dense", "conv2d"):
            return layer.kind
    return None
