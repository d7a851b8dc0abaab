"""explain.py (back-projection, activation maximisation, saliency, feed-back, the first layer as pictures)
and heatmap.py (colour maps, tiling, weight grids, confusion colours, the pixel font, the PNG writer)."""

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop import explain, heatmap
from mnist_desktop.engine import Network, TrainConfig, Trainer
from mnist_desktop.engine.presets import mlp
from mnist_desktop.explain import first_conv_maps, first_layer
from mnist_desktop.heatmap import confusion_colors, dark_cells


def _net(arch, seed=0, dtype=np.float64):
    return Network.from_architecture(arch, rng=np.random.default_rng(seed), dtype=dtype)


def _randomise_biases_and_batchnorm(net, seed=1):
    """Non-zero biases (back-projection must ignore them) and non-trivial batch-norm statistics."""
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if "b" in layer.params:
            layer.params["b"][:] = rng.standard_normal(layer.params["b"].shape)
        if layer.kind == "batchnorm":
            layer.params["gamma"][:] = rng.uniform(0.5, 2.0, layer.params["gamma"].shape)
            layer.params["beta"][:] = rng.standard_normal(layer.params["beta"].shape)
            layer.buffers["mean"][:] = rng.standard_normal(layer.buffers["mean"].shape)
            layer.buffers["var"][:] = rng.uniform(0.2, 3.0, layer.buffers["var"].shape)


def _unit_max(v):
    return v / np.abs(v).max()


# ---- back-projection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", [
    mlp([784, 20, 16, 10]),                          # relu, ce
    mlp([784, 12, 10], "sigmoid", "mse", 0.3),       # sigmoid output + dropout
    mlp([784, 10]),                                  # no hidden layer: the weights themselves
])
def test_backproject_mlp_is_the_product_of_transposed_weights(arch):
    net = _net(arch)
    _randomise_biases_and_batchnorm(net)
    Ws = [layer.params["W"] for layer in net.layers if layer.kind == "dense"]  # engine: y = x @ W, W (n_in, n_out)
    for digit in range(10):
        onehot = np.eye(10)[digit]
        # the write-up's column convention: hidden = W2^T onehot, input = W1^T hidden, with W^T = our W
        v = onehot
        for W in reversed(Ws):
            v = W @ v
        got = explain.backproject(net, digit)
        assert got.shape == (28, 28) and got.dtype == np.float32
        np.testing.assert_allclose(got, _unit_max(v).reshape(28, 28), rtol=1e-5, atol=1e-6)
        assert np.abs(got).max() == pytest.approx(1.0)


def _avgpool(x, s):
    n, h, w, c = x.shape
    ho, wo = h // s, w // s
    return x[:, :ho * s, :wo * s].reshape(n, ho, s, wo, s, c).mean(axis=(2, 4))


def _linearised_forward(net, x):
    """The network with every activation's slope 1 and dropout off, max pooling replaced by average
    pooling: an affine map of x, computed with the layers' own forward passes."""
    x = x.reshape(len(x), *net.input_shape)
    for layer in net.layers:
        if layer.kind in ("relu", "sigmoid", "tanh", "dropout"):
            continue
        x = _avgpool(x, layer.size) if layer.kind == "maxpool2d" else layer.forward(x, training=False)
    return x


CNN = {"input_shape": [784], "loss": "ce", "layers": [
    {"type": "reshape", "shape": [28, 28, 1]},
    {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same"},
    {"type": "batchnorm"},
    {"type": "relu"},
    {"type": "maxpool2d", "size": 2},                 # 28 -> 14
    {"type": "dropout", "p": 0.3},
    {"type": "conv2d", "filters": 4, "kernel": 4},    # 14 -> 11
    {"type": "tanh"},
    {"type": "maxpool2d", "size": 2},                 # 11 -> 5: the last row and column are dropped
    {"type": "flatten"},
    {"type": "dense", "units": 12},
    {"type": "relu"},
    {"type": "dense", "units": 10},
]}


def test_backproject_cnn_is_the_transpose_of_the_linearised_network():
    """Exact statement: back-projection = J^T onehot, where J is the Jacobian of the network with every
    activation's slope 1, dropout off, batch norm at its running statistics and max pooling replaced by
    average pooling (spreading evenly is the transpose of averaging). J is built column by column by
    pushing the 784 unit images forward (no backward code involved)."""
    net = _net(CNN)
    _randomise_biases_and_batchnorm(net)
    basis = np.vstack([np.zeros((1, 784)), np.eye(784)])
    out = _linearised_forward(net, basis)
    J = out[1:] - out[0]                               # (784 inputs, 10 outputs): affine offsets cancel
    got = explain.backproject_batch(net, np.arange(10))
    for digit in range(10):
        np.testing.assert_allclose(got[digit], _unit_max(J[:, digit]).reshape(28, 28), rtol=1e-5, atol=1e-6)
    # the last pixel row/column only reaches (through the 3x3 conv and the first pool) the row/column that
    # the second pool drops: no path to the output, exactly zero; the row before it has a path
    assert np.all(got[:, 27, :] == 0) and np.all(got[:, :, 27] == 0)
    assert np.abs(got[:, 26, :]).max() > 0


def test_backproject_without_pooling_is_the_input_gradient_with_activations_removed():
    """Without pooling the back-projection is exactly the engine's own backward pass (input_gradient of
    the digit's logit) through the same network with its activation and dropout layers taken out."""
    arch = {"input_shape": [784], "loss": "ce", "layers": [
        {"type": "reshape", "shape": [28, 28, 1]},
        {"type": "conv2d", "filters": 3, "kernel": 5},
        {"type": "relu"},
        {"type": "batchnorm"},
        {"type": "conv2d", "filters": 2, "kernel": 3, "padding": "same"},
        {"type": "sigmoid"},
        {"type": "dropout", "p": 0.5},
        {"type": "flatten"},
        {"type": "dense", "units": 10},
    ]}
    net = _net(arch)
    _randomise_biases_and_batchnorm(net)
    keep = [i for i, l in enumerate(arch["layers"]) if l["type"] not in ("relu", "sigmoid", "dropout")]
    linear = _net({**arch, "layers": [arch["layers"][i] for i in keep]})
    for j, i in enumerate(keep):
        for d_own, d_lin in ((net.layers[i].params, linear.layers[j].params),
                             (net.layers[i].buffers, linear.layers[j].buffers)):
            for k in d_own:
                d_lin[k][...] = d_own[k]
    x = np.random.default_rng(3).random((10, 784))  # any input: the linear network's gradient is constant
    grads = linear.input_gradient(x, np.eye(10))
    got = explain.backproject_batch(net, np.arange(10))
    for digit in range(10):
        np.testing.assert_allclose(got[digit], _unit_max(grads[digit]).reshape(28, 28), rtol=1e-5, atol=1e-6)


def test_backproject_edge_cases():
    net = _net(mlp([784, 10]))
    for layer in net.layers:
        layer.params["W"][:] = 0
    assert np.all(explain.backproject(net, 4) == 0)  # a network with no weights: zeros, not NaN
    for bad in (10, -1, 3.5, "3"):
        with pytest.raises(ValueError):
            explain.backproject(net, bad)
    with pytest.raises(ValueError, match="784 inputs"):
        explain.backproject(_net({"input_shape": [10], "layers": [{"type": "dense", "units": 10}]}), 0)


def test_linear_backward_refuses_an_unknown_layer():
    class Strange:
        kind = "strange"

    with pytest.raises(ValueError, match="strange"):
        explain.linear_backward(Strange(), np.zeros((1, 3)), (3,))


def test_pool_spreads_evenly_and_drops_odd_edges():
    from mnist_desktop.engine.layers import MaxPool2D

    pool = MaxPool2D(2)
    d = np.arange(1, 5, dtype=np.float64).reshape(1, 2, 2, 1)
    dx = explain.linear_backward(pool, d, (5, 5, 1))[0, :, :, 0]
    np.testing.assert_array_equal(dx[:4, :4], np.repeat(np.repeat(d[0, :, :, 0], 2, 0), 2, 1) / 4)
    assert np.all(dx[4] == 0) and np.all(dx[:, 4] == 0)
    assert dx.sum() == pytest.approx(d.sum())  # spreading keeps the total


# ---- activation maximisation on a trained network -----------------------------------------------------

# seven-segment digits: which of the segments a (top), b (top right), c (bottom right), d (bottom),
# e (bottom left), f (top left), g (middle) each digit lights
SEGMENTS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]


def synthetic_digits(n, seed=0):
    """(n, 784) float32 seven-segment digits in [0, 1], white on black, shifted by up to 2 px, strokes
    2-3 px thick, a little noise; (n,) int64 labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = np.zeros((n, 28, 28), np.float32)
    for i, label in enumerate(y):
        t = int(rng.integers(2, 4))
        top, mid, bot, left, right = 5, 13, 21, 9, 17
        dy, dx = rng.integers(-2, 3, 2)
        img = x[i]
        for s in SEGMENTS[label]:
            r0, r1, c0, c1 = {"a": (top, top + t, left, right + t), "g": (mid, mid + t, left, right + t),
                              "d": (bot, bot + t, left, right + t), "f": (top, mid + t, left, left + t),
                              "e": (mid, bot + t, left, left + t), "b": (top, mid + t, right, right + t),
                              "c": (mid, bot + t, right, right + t)}[s]
            img[r0 + dy:r1 + dy, c0 + dx:c1 + dx] = 1.0
    x += 0.1 * rng.random(x.shape, dtype=np.float32)
    return np.clip(x, 0, 1).reshape(n, 784), y


@pytest.fixture(scope="module")
def trained():
    """A 784-32-10 ReLU MLP trained on synthetic digits (test accuracy ~100%), in a fraction of a second."""
    net = Network.from_architecture(mlp([784, 32, 10]), rng=np.random.default_rng(0))
    x, y = synthetic_digits(1200)
    trainer = Trainer(net, (x[:1000], y[:1000]), (x[1000:], y[1000:]), TrainConfig(epochs=8, batch_size=32, lr=3e-3))
    records = list(trainer.run())
    assert records[-1].test_acc > 0.95
    return net


def test_maximised_images_are_classified_as_the_digit_asked_for(trained):
    results = explain.imagine_all(trained, "maximize")
    assert [r.digit for r in results] == list(range(10))
    for r in results:
        assert r.method == "maximize" and r.image.shape == (28, 28) and r.image.dtype == np.float32
        assert r.image.min() >= 0 and r.image.max() <= 1
        assert r.predicted == r.digit and r.probability >= 0.9, (r.digit, r.probabilities.round(3))
        np.testing.assert_allclose(r.probabilities, explain.feed_back(trained, r.image), rtol=1e-5, atol=1e-7)


MNIST_SUBSET = Path(__file__).resolve().parent / "data"  # 3,000 + 1,000 real MNIST digits, once merged


def read_idx_subset(folder, split):
    """(images (N, 784) float32 in [0, 1], labels (N,) int64) from the gzipped IDX files in ``folder``."""
    prefix = "train" if split == "train" else "t10k"
    images = np.frombuffer(gzip.decompress((folder / f"{prefix}-images-idx3-ubyte.gz").read_bytes()), np.uint8, offset=16)
    labels = np.frombuffer(gzip.decompress((folder / f"{prefix}-labels-idx1-ubyte.gz").read_bytes()), np.uint8, offset=8)
    return (images.reshape(-1, 784) / np.float32(255)).astype(np.float32), labels.astype(np.int64)


def mnist_maximize_check(folder):
    """Train a 784-64-10 MLP on the MNIST subset; every maximised image must be read as its digit, p >= 0.9."""
    net = Network.from_architecture(mlp([784, 64, 10]), rng=np.random.default_rng(0))
    train, test = read_idx_subset(folder, "train"), read_idx_subset(folder, "test")
    records = list(Trainer(net, train, test, TrainConfig(epochs=6, batch_size=32, lr=2e-3)).run())
    assert records[-1].test_acc > 0.85
    return [(r.digit, r.predicted, r.probability) for r in explain.imagine_all(net, "maximize")]


@pytest.mark.skipif(not (MNIST_SUBSET / "train-images-idx3-ubyte.gz").is_file(), reason="no MNIST subset in tests/data")
def test_maximised_images_of_an_mnist_trained_mlp_are_read_as_the_digit():
    for digit, predicted, p in mnist_maximize_check(MNIST_SUBSET):
        assert predicted == digit and p >= 0.9, (digit, predicted, p)


def test_maximize_is_seeded_and_matches_the_batched_version(trained):
    one = explain.maximize(trained, 7, steps=30)
    np.testing.assert_array_equal(one, explain.maximize(trained, 7, steps=30))
    np.testing.assert_allclose(one, explain.maximize_batch(trained, [3, 7], steps=30)[1], atol=1e-5)
    assert not np.array_equal(one, explain.maximize(trained, 7, steps=30, seed=1))
    np.testing.assert_array_equal(explain.imagine(trained, 7, "maximize", steps=30), one)


def test_maximize_on_a_trained_cnn_gives_images_it_reads_as_the_digit():
    """The CNN path of the gradient ascent (conv, batch norm, pool, dropout): a one-conv CNN trained on the
    synthetic digits reads every maximised image as the digit asked for."""
    arch = {"input_shape": [784], "loss": "ce", "layers": [
        {"type": "reshape", "shape": [28, 28, 1]}, {"type": "conv2d", "filters": 4, "kernel": 5},
        {"type": "batchnorm"}, {"type": "relu"}, {"type": "maxpool2d", "size": 2}, {"type": "dropout", "p": 0.1},
        {"type": "flatten"}, {"type": "dense", "units": 10}]}
    cnn = Network.from_architecture(arch, rng=np.random.default_rng(0))
    x, y = synthetic_digits(1000)
    records = list(Trainer(cnn, (x[:800], y[:800]), (x[800:], y[800:]), TrainConfig(epochs=3, lr=3e-3, batch_size=32)).run())
    assert records[-1].test_acc > 0.9
    start = explain.maximize_batch(cnn, np.arange(10), steps=0)
    results = explain.imagine_all(cnn, "maximize")
    assert all(r.recognised for r in results), [r.predicted for r in results]
    assert np.mean([r.probability for r in results]) > 0.8
    before = cnn.predict_proba(start.reshape(10, 784))[np.arange(10), np.arange(10)]
    assert np.all([r.probability for r in results] > before)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_log_odds_gradient_matches_finite_differences(loss):
    from mnist_desktop.engine.losses import outputs_to_probabilities

    rng = np.random.default_rng(4)
    out = rng.random((3, 10)) if loss == "mse" else rng.standard_normal((3, 10))
    digits = np.array([2, 0, 9])

    def log_odds(o):
        p = outputs_to_probabilities(o, loss)[np.arange(3), digits].astype(np.float64)
        return np.log(p / (1 - p))

    g = explain.score_gradient(out, digits, loss, "log_odds")
    h = 1e-6
    for j in range(10):
        e = np.zeros_like(out)
        e[:, j] = h
        np.testing.assert_allclose(g[:, j], (log_odds(out + e) - log_odds(out - e)) / (2 * h), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(explain.score_gradient(out, digits, loss, "logit"), np.eye(10)[digits])
    with pytest.raises(ValueError):
        explain.score_gradient(out, digits, loss, "fame")


def test_maximize_with_the_raw_logit_also_works(trained):
    img = explain.maximize(trained, 4, objective="logit")
    assert int(np.argmax(explain.feed_back(trained, img))) == 4


def test_blur_and_shift_helpers():
    x = np.zeros((1, 9, 9), np.float32)
    x[0, 4, 4] = 1
    b = explain.gaussian_blur(x, 1.0)
    assert b.sum() == pytest.approx(1.0, abs=1e-5) and b[0, 4, 4] == b.max() < 0.2
    np.testing.assert_allclose(b[0], b[0].T, atol=1e-7)
    np.testing.assert_allclose(b[0], b[0, ::-1, ::-1], atol=1e-7)
    assert explain.gaussian_blur(x, 0) is x
    s = explain._shift(x, 2, -3)
    assert s[0, 6, 1] == 1 and s.sum() == 1                # moved, not wrapped
    assert explain._shift(x, 0, 6).sum() == 0              # pushed off the edge: gone
    # the maximised image depends on the smoothing: more blur, smoother image
    net = _net(mlp([784, 16, 10]), dtype=np.float32)
    rough = lambda im: np.abs(np.diff(im, axis=0)).mean() + np.abs(np.diff(im, axis=1)).mean()
    assert rough(explain.maximize(net, 1, steps=30, smooth=1.0)) < rough(explain.maximize(net, 1, steps=30, smooth=0))


def test_maximize_rejects_bad_settings(trained):
    for kw in ({"steps": -1}, {"lr": 0}, {"l2": -0.1}, {"smooth": -1}, {"jitter": -1}, {"objective": "x"}):
        with pytest.raises(ValueError):
            explain.maximize(trained, 1, **kw)


# ---- saliency ----------------------------------------------------------------------------------------


def test_saliency_is_zero_where_the_network_does_not_look():
    net = _net(mlp([784, 16, 10]), dtype=np.float32)
    W1 = net.layers[0].params["W"].reshape(28, 28, 16)
    W1[:, :14] = 0                                     # the left half of the image reaches no unit
    image = synthetic_digits(1, seed=5)[0][0].reshape(28, 28)
    s = explain.saliency(net, image)
    assert s.shape == (28, 28) and s.dtype == np.float32
    assert np.all(s[:, :14] == 0)
    assert s.min() >= 0 and s.max() == pytest.approx(1.0) and s[:, 14:].mean() > 0
    W1[:] = 0
    assert np.all(explain.saliency(net, image) == 0)  # no dependence at all: zeros, not NaN


def test_saliency_of_a_linear_network_is_the_weight_column():
    net = _net(mlp([784, 10]), dtype=np.float32)
    image = np.random.default_rng(2).random((28, 28))
    W = net.layers[0].params["W"]
    for digit in (0, 6):
        np.testing.assert_allclose(explain.saliency(net, image, digit), _unit_max(np.abs(W[:, digit])).reshape(28, 28),
                                   rtol=1e-5)
    predicted = int(net.predict(image.reshape(1, 784))[0])
    np.testing.assert_array_equal(explain.saliency(net, image), explain.saliency(net, image, predicted))
    with pytest.raises(ValueError):
        explain.saliency(net, np.zeros((5, 5)))


def test_saliency_on_input_follows_the_network_onto_the_drawing():
    """A network that only looks at the left half of its input: on a drawing whose 28x28 image is a
    scaled copy, the saliency comes back on the left half of the drawing only."""
    from mnist_desktop.preprocess import to_mnist

    net = _net(mlp([784, 16, 10]), dtype=np.float32)
    net.layers[0].params["W"].reshape(28, 28, 16)[:, 14:] = 0
    gray = np.zeros((280, 280), np.float32)
    gray[40:240, 80:200] = 1.0                         # a block, centred: the 28x28 centre is x = 140
    pre = to_mnist(gray)
    sal, back = explain.saliency_on_input(net, pre, smooth=0.7, max_side=140)
    assert sal.shape == (28, 28) and back.shape == (140, 140) and back.dtype == np.float32
    assert sal.max() == pytest.approx(1.0) and back.max() == pytest.approx(1.0)
    assert back[:, :60].max() > 0.1 and back[:, 80:].max() < 0.01   # the left half (x < 140 -> < 70)
    sal, back = explain.saliency_on_input(net, pre)                   # no blur: exactly zero on the right
    np.testing.assert_allclose(sal, explain.saliency(net, pre.image), rtol=1e-6)
    assert back.shape == (280, 280) and back[:, :120].max() > 0.1 and back[:, 150:].max() == 0


# ---- feeding back ------------------------------------------------------------------------------------


def test_as_input_maps_signed_maps_to_pixels_and_keeps_pixel_images():
    signed = np.zeros((28, 28), np.float32)
    signed[0, 0], signed[0, 1], signed[0, 2] = -1.0, 0.5, 0.25
    x = explain.as_input(signed)
    assert x[0, 0] == 0 and x[0, 1] == 1.0 and x[0, 2] == 0.5 and x.dtype == np.float32
    pixels = np.full((28, 28), 0.4, np.float32)
    np.testing.assert_array_equal(explain.as_input(pixels), pixels)  # already valid: unchanged
    assert np.all(explain.as_input(-np.ones((28, 28))) == 0)


def test_imagine_all_backproject_feeds_every_digit_back(trained):
    results = explain.imagine_all(trained)
    for r in results:
        assert r.method == "backproject" and np.abs(r.image).max() == pytest.approx(1.0)
        np.testing.assert_allclose(r.image, explain.backproject(trained, r.digit), atol=1e-6)
        assert r.probabilities.shape == (10,) and r.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
        assert r.predicted == int(np.argmax(r.probabilities))
        assert r.recognised == (r.predicted == r.digit)
    # on clean, well-separated digits the positive evidence alone is read as the right digit
    assert sum(r.recognised for r in results) >= 8


def test_imagine_dispatch(trained):
    np.testing.assert_array_equal(explain.imagine(trained, 5), explain.backproject(trained, 5))
    with pytest.raises(ValueError, match="unknown method"):
        explain.imagine(trained, 5, "dream")
    with pytest.raises(ValueError, match="unknown method"):
        explain.imagine_all(trained, "dream")
    with pytest.raises(TypeError):
        explain.imagine(trained, 5, "backproject", steps=3)
    assert explain.METHODS == ("backproject", "maximize")


# ---- heatmap -----------------------------------------------------------------------------------------


def test_diverging_map_is_blue_white_red_and_symmetric():
    v = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]])
    rgb = heatmap.diverging_rgb(v)
    assert rgb.shape == (1, 5, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 2]) == (255, 255, 255)
    neg, pos = rgb[0, 0].astype(int), rgb[0, 4].astype(int)
    assert neg[2] > neg[0] + 50 and pos[0] > pos[2] + 50  # blue below zero, red above
    # equal |v| -> about equal lightness on both arms
    lum = lambda c: 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    for t in np.linspace(0.1, 1, 10):
        a, b = heatmap.diverging_rgb(np.array([[-t, t]]))[0].astype(float)
        assert abs(lum(a) - lum(b)) < 25
    # lightness falls monotonically away from zero on each arm
    ramp = heatmap.diverging_rgb(np.linspace(0, 1, 50)[None])[0].astype(float)
    assert np.all(np.diff([lum(c) for c in ramp]) <= 1e-9)
    # explicit vmax clips; no range at all is white, NaN counts as zero
    np.testing.assert_array_equal(heatmap.diverging_rgb(v, vmax=1.0)[0, 0], heatmap.diverging_rgb(v, vmax=1.0)[0, 1])
    assert np.all(heatmap.diverging_rgb(np.zeros((3, 3))) == 255)
    assert np.all(heatmap.diverging_rgb(np.array([[np.nan, 0.0]])) == 255)


def test_grayscale_tile_upscale():
    g = heatmap.grayscale_rgb(np.array([[0.0, 0.5, 1.0, 2.0, -1.0]]))
    assert g[0, :, 0].tolist() == [0, 128, 255, 255, 0] and np.all(g[..., 0] == g[..., 2])
    img = np.arange(6, dtype=np.uint8).reshape(2, 3)
    up = heatmap.upscale_nearest(img, 3)
    assert up.shape == (6, 9) and np.all(up[:3, :3] == 0) and np.all(up[3:, 6:] == 5)
    with pytest.raises(ValueError):
        heatmap.upscale_nearest(img, 0)
    ims = [np.full((2, 3, 3), i, np.uint8) for i in range(1, 8)]
    t = heatmap.tile(ims, cols=5, pad=1, fill=200)
    assert t.shape == (2 * 2 + 3, 5 * 3 + 6, 3)
    assert np.all(t[1:3, 1:4] == 1) and np.all(t[1:3, 5:8] == 2) and np.all(t[4:6, 5:8] == 7)
    assert np.all(t[4:6, 9:12] == 200) and np.all(t[0] == 200)  # missing cells and padding are the fill
    with pytest.raises(ValueError):
        heatmap.tile([np.zeros((2, 2)), np.zeros((3, 3))], 2)


def test_pixel_font_and_caption():
    m = heatmap.text_mask("10")
    assert m.shape == (5, 7)
    assert m[:, :3].tolist() == [[False, True, False], [True, True, False], [False, True, False],
                                 [False, True, False], [True, True, True]]
    assert not m[:, 3].any()  # one blank column between characters
    assert heatmap.text_mask("7>7 99%", scale=2).shape == (10, 2 * (7 * 4 - 1))
    with pytest.raises(ValueError):
        heatmap.text_mask("A")
    img = np.zeros((10, 20, 3), np.uint8)
    out = heatmap.with_caption(img, "3", scale=1, color=(1, 2, 3))
    assert out.shape == (17, 20, 3) and np.all(out[7:] == 0)
    assert (out[:7] == (1, 2, 3)).all(axis=-1).sum() == heatmap.text_mask("3").sum()


def read_png(data: bytes) -> np.ndarray:
    """A minimal PNG reader (8-bit, filter type 0 only) that checks the signature and every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    w, h, depth, color, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {0: 1, 2: 3, 6: 4}[color]
    assert depth == 8
    raw = np.frombuffer(zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT")), np.uint8)
    rows = raw.reshape(h, 1 + w * channels)
    assert np.all(rows[:, 0] == 0)
    return rows[:, 1:].reshape(h, w, channels).squeeze(-1) if channels == 1 else rows[:, 1:].reshape(h, w, channels)


@pytest.mark.parametrize("shape", [(7, 5, 3), (4, 9), (3, 2, 4)])
def test_png_round_trip(tmp_path, shape):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "x.png"
    heatmap.write_png(path, img)
    np.testing.assert_array_equal(read_png(path.read_bytes()), img)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # the temp file was renamed, none left behind


def test_png_is_read_by_qt(tmp_path):
    QtGui = pytest.importorskip("PySide6.QtGui")
    img = heatmap.upscale_nearest(heatmap.diverging_rgb(np.linspace(-1, 1, 28 * 28).reshape(28, 28)), 2)
    heatmap.write_png(tmp_path / "h.png", img)
    q = QtGui.QImage(str(tmp_path / "h.png"))
    assert not q.isNull() and (q.width(), q.height()) == (56, 56)
    for y, x in ((0, 0), (30, 50), (55, 55)):
        c = q.pixelColor(x, y)
        assert (c.red(), c.green(), c.blue()) == tuple(int(v) for v in img[y, x])


def test_png_rejects_what_it_cannot_write(tmp_path):
    for bad in (np.zeros((4, 4), np.float32), np.zeros((4, 4, 2), np.uint8), np.zeros((0, 4), np.uint8)):
        with pytest.raises(ValueError):
            heatmap.write_png(tmp_path / "bad.png", bad)
    assert not list(tmp_path.iterdir())


def test_heat_rgba_is_transparent_at_zero_and_warm_at_one():
    v = np.array([[0.0, 0.25, 1.0, np.nan, 7.0]], np.float32)
    rgba = heatmap.heat_rgba(v, max_alpha=0.8, gamma=0.7)
    assert rgba.shape == (1, 5, 4) and rgba.dtype == np.uint8
    assert rgba[0, 0, 3] == 0 and rgba[0, 3, 3] == 0              # zero and NaN: see-through
    assert rgba[0, 2, 3] == round(0.8 * 255) and (rgba[0, 4] == rgba[0, 2]).all()   # clipped at 1
    assert 0 < rgba[0, 1, 3] < rgba[0, 2, 3]
    r, g, b = (int(x) for x in rgba[0, 2, :3])
    assert r >= g >= b                                            # warm: red/yellow, never blue


# ---- the first layer as pictures (explain) and their grids (heatmap) ------------------------------------

TINY_CNN = {"input_shape": [784], "loss": "ce", "layers": [
    {"type": "reshape", "shape": [28, 28, 1]},
    {"type": "conv2d", "filters": 4, "kernel": 5},
    {"type": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "init": "xavier"},
]}


def test_first_layer_of_an_mlp_and_a_cnn_are_their_weights():
    net = Network.from_architecture(mlp([784, 100, 10]), rng=np.random.default_rng(7))
    first = first_layer(net)
    assert first.kind == "dense" and first.tiles.shape == (64, 28, 28) and first.total == 100 and first.index == 0
    np.testing.assert_array_equal(first.tiles[5], net.layers[0].params["W"][:, 5].reshape(28, 28))
    assert first_layer(net, limit=10).tiles.shape == (10, 28, 28)
    cnn = Network.from_architecture(TINY_CNN, rng=np.random.default_rng(8))
    first = first_layer(cnn)
    assert first.kind == "conv2d" and first.tiles.shape == (4, 5, 5) and first.index == 1
    np.testing.assert_array_equal(first.tiles[2], cnn.layers[1].params["W"][:, :, 0, 2])
    assert explain.first_layer_kind(cnn) == "conv2d" and explain.first_layer_kind(net) == "dense"


def test_first_conv_maps_are_the_convolution_after_its_activation():
    cnn = Network.from_architecture(TINY_CNN, rng=np.random.default_rng(8))
    W, b = cnn.layers[1].params["W"], cnn.layers[1].params["b"]
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12:16] = 1.0
    maps = first_conv_maps(cnn, image)
    assert maps.maps.shape == (4, 24, 24) and maps.stage == "conv2d > relu" and not maps.signed
    f = 3
    by_hand = np.array([[np.sum(image[i:i + 5, j:j + 5] * W[:, :, 0, f]) + b[f] for j in range(24)] for i in range(24)])
    np.testing.assert_allclose(maps.maps[f], np.maximum(by_hand, 0), rtol=1e-5, atol=1e-5)


def test_first_layer_helpers_on_other_shapes():
    assert first_layer(Network.from_architecture(mlp([100, 10]), rng=np.random.default_rng(0))) is None
    assert first_conv_maps(Network.from_architecture(mlp([784, 10]), rng=np.random.default_rng(0)),
                           np.zeros((28, 28))) is None
    same = dict(TINY_CNN, layers=[TINY_CNN["layers"][0],
                                  {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same"},
                                  {"type": "flatten"}, {"type": "dense", "units": 10}])
    maps = first_conv_maps(Network.from_architecture(same, rng=np.random.default_rng(0)), np.ones((28, 28)))
    assert maps.maps.shape == (3, 28, 28) and maps.signed and maps.stage == "conv2d"


def test_weight_and_map_grids_line_up_filter_over_map():
    tiles = np.random.default_rng(0).standard_normal((16, 28, 28)).astype(np.float32)
    grid = heatmap.weights_rgb(tiles)
    assert grid.shape == (2 * 28 + 3 * 2, 8 * 28 + 9 * 2, 3) and grid.dtype == np.uint8
    assert tuple(grid[0, 0]) == heatmap.TILE_FILL
    np.testing.assert_array_equal(grid[2:30, 2:30], heatmap.diverging_rgb(tiles[0]))     # each on its own scale
    filters = np.random.default_rng(1).standard_normal((4, 5, 5))
    maps = np.abs(np.random.default_rng(2).standard_normal((4, 24, 24)))
    wgrid, mgrid = heatmap.weights_rgb(filters, cell=24), heatmap.maps_rgb(maps, signed=False, cell=24)
    assert wgrid.shape == mgrid.shape == (24 + 2 * 2, 4 * 24 + 5 * 2, 3)
    # a 5x5 filter is enlarged 4x (20x20) and centred in its 24x24 cell
    np.testing.assert_array_equal(wgrid[2 + 2:2 + 22, 2 + 2:2 + 22], heatmap.upscale_nearest(heatmap.diverging_rgb(filters[0]), 4))
    # unsigned maps: white on black on one common scale (the largest value of all is white)
    top = np.unravel_index(np.argmax(maps), maps.shape)
    assert tuple(mgrid[2 + top[1], 2 + top[0] * 26 + top[2]]) == (255, 255, 255)
    signed = heatmap.maps_rgb(maps - maps.mean(), signed=True)
    assert signed.shape == (24 + 2 * 2, 4 * 24 + 5 * 2, 3)


def test_confusion_colours_set_mistakes_apart_and_show_single_ones():
    conf = np.array([[50, 1, 0], [20, 40, 3], [0, 0, 45]])
    rgb = confusion_colors(conf).astype(int)
    assert rgb.shape == (3, 3, 3) and confusion_colors(conf).dtype == np.uint8
    green = lambda c: c[1] > c[0]                      # noqa: E731
    assert all(green(rgb[i, i]) for i in range(3))                     # the diagonal is green
    assert not green(rgb[1, 0]) and not green(rgb[0, 1])               # mistakes are red
    assert tuple(rgb[0, 2]) == tuple(rgb[2, 0]) == (247, 247, 247)     # zero: neutral
    assert tuple(rgb[0, 1]) != (247, 247, 247)                         # one mistake shows
    # log scale: 3 is well on the way from 1 to 20 (linear: 2/19 of it; log: 29%)
    darkness = lambda c: 765 - c.sum()                 # noqa: E731
    assert darkness(rgb[0, 1]) < darkness(rgb[1, 2]) < darkness(rgb[1, 0])
    assert darkness(rgb[1, 2]) - darkness(rgb[0, 1]) > 0.2 * (darkness(rgb[1, 0]) - darkness(rgb[0, 1]))
    assert dark_cells(confusion_colors(conf))[1, 0] and not dark_cells(confusion_colors(conf))[0, 2]


# ---- attribution -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["strokes", "integrated"])
def test_stroke_attribution_is_zero_off_the_ink(method):
    net = _net(mlp([784, 32, 10]), dtype=np.float32)
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12:16] = 1.0                                   # a bar
    a = explain.attribution(net, image, 3, method)
    assert a.shape == (28, 28) and a.dtype == np.float32 and a.min() >= 0
    assert np.all(a[image == 0] == 0) and a.max() == pytest.approx(1.0)


def test_stroke_attribution_of_a_linear_network_is_ink_times_evidence():
    """Linear logits z = x W + b: the log-odds gradient is W[:, d] - sum_k q_k W[:, k] (q: softmax of the
    other logits), so gradient x input is x times that, positive part."""
    net = _net(mlp([784, 10]), dtype=np.float64)
    x = np.random.default_rng(4).random(784)
    W = net.layers[0].params["W"]
    z = x @ W + net.layers[0].params["b"]
    q = np.exp(z - z.max())
    q[2] = 0
    q /= q.sum()
    expected = np.maximum(x * (W[:, 2] - W @ q), 0)
    np.testing.assert_allclose(explain.attribution(net, x, 2, "strokes").reshape(-1), _unit_max(expected), rtol=1e-5,
                               atol=1e-7)
    # integrated gradients of a linear log-odds path: the gradient changes along the path (q does), but
    # the map still sums the same evidence: highly correlated with gradient x input
    ig = explain.attribution(net, x, 2, "integrated").reshape(-1)
    assert np.corrcoef(ig, expected)[0, 1] > 0.9


def test_attribution_gradient_is_the_saliency_and_unknown_methods_fail():
    net = _net(mlp([784, 16, 10]), dtype=np.float32)
    image = synthetic_digits(1, seed=2)[0][0].reshape(28, 28)
    np.testing.assert_array_equal(explain.attribution(net, image, 4, "gradient"), explain.saliency(net, image, 4))
    with pytest.raises(ValueError, match="unknown attribution"):
        explain.attribution(net, image, 4, "occlusion")
    with pytest.raises(ValueError, match="28x28"):
        explain.attribution(net, np.zeros(5), 4, "strokes")
    from mnist_desktop.preprocess import to_mnist

    gray = np.zeros((100, 100), np.float32)
    gray[20:80, 45:55] = 1.0
    pre = to_mnist(gray)
    sal, back = explain.saliency_on_input(net, pre, 4, method="strokes")
    np.testing.assert_allclose(sal, explain.attribution(net, pre.image, 4, "strokes"), rtol=1e-6)
    assert back.shape == (100, 100) and back[:, :30].max() < 1e-6          # nothing where there is no ink
