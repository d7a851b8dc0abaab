"""Every layer, loss and whole network against centred finite differences, in float64."""

import numpy as np
import pytest

from mnist_desktop.engine import Network, layers as L
from mnist_desktop.engine.losses import mean_squared_error, softmax_cross_entropy
from mnist_desktop.engine.presets import mlp

from gradcheck import numerical_grad

RTOL, ATOL = 1e-5, 1e-7


def check_layer(layer, in_shape, n=3, seed=0, training=False, x=None):
    """Check dx and every parameter gradient of ``layer`` for f = sum(forward(x) * R)."""
    rng = np.random.default_rng(seed)
    layer.build(in_shape, rng, np.float64)
    if x is None:
        x = rng.standard_normal((n, *in_shape))
    out_shape = layer.forward(x, training).shape
    r = rng.standard_normal(out_shape)

    def f():
        return float(np.sum(layer.forward(x, training) * r))

    f()
    dx = layer.backward(r, need_dx=True)
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    np.testing.assert_allclose(dx, numerical_grad(f, x), rtol=RTOL, atol=ATOL, err_msg="dx")
    for k, p in layer.params.items():
        np.testing.assert_allclose(analytic[k], numerical_grad(f, p), rtol=RTOL, atol=ATOL, err_msg=k)


def test_dense():
    check_layer(L.Dense(4), (5,))


@pytest.mark.parametrize("cls", [L.Sigmoid, L.Tanh, L.ReLU])
def test_activations(cls):
    x = np.random.default_rng(3).standard_normal((4, 6))
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU away from its kink
    check_layer(cls(), (6,), x=x)


def test_sigmoid_is_stable_for_large_inputs():
    s = L.Sigmoid()
    s.build((3,), np.random.default_rng(0), np.float32)
    y = s.forward(np.array([[-1000.0, 0.0, 1000.0]], np.float32))
    np.testing.assert_allclose(y, [[0.0, 0.5, 1.0]])


def test_dropout_training_uses_one_mask_and_inference_is_identity():
    d = L.Dropout(0.5)
    d.build((1000,), np.random.default_rng(0), np.float64)
    x = np.ones((2, 1000))
    np.testing.assert_array_equal(d.forward(x, training=False), x)
    y = d.forward(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 0.4 < np.mean(y == 0) < 0.6
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), y)  # same mask forward and back


@pytest.mark.parametrize("training", [True, False])  # columns kept for backward, or rebuilt there
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d(padding, training):
    check_layer(L.Conv2D(3, kernel=3, padding=padding), (6, 5, 2), n=2, training=training)


@pytest.mark.parametrize("training", [True, False])
def test_conv2d_single_channel_5x5(training):
    check_layer(L.Conv2D(2, kernel=5), (8, 8, 1), n=2, training=training)


@pytest.mark.parametrize("padding,kernel", [("same", 3), ("same", 5), ("valid", 3)])
@pytest.mark.parametrize("way", ["convolution", "scatter"])
def test_conv2d_both_ways_to_dx(padding, kernel, way):
    conv = L.Conv2D(3, kernel=kernel, padding=padding)
    conv._dx_by_convolution = lambda *shape: way == "convolution"
    check_layer(conv, (7, 6, 2), n=2, training=True)


def test_conv2d_single_channel_same():
    # the first layer of a 'same' CNN: transposed single-channel columns over a padded input
    check_layer(L.Conv2D(3, kernel=3, padding="same"), (6, 5, 1), n=2)


@pytest.mark.parametrize("c", [1, 2])
def test_conv2d_in_chunks_rebuilt_for_backward(c):
    # tiny limits force one image per im2col chunk and columns rebuilt in backward
    conv = L.Conv2D(2, kernel=3, padding="same")
    conv.max_chunk, conv.max_kept = 1, 1
    check_layer(conv, (5, 4, c), n=3, training=True)


def test_conv2d_matches_direct_correlation():
    rng = np.random.default_rng(0)
    conv = L.Conv2D(2, kernel=3)
    conv.build((5, 5, 2), rng, np.float64)
    x = rng.standard_normal((1, 5, 5, 2))
    y = conv.forward(x)
    W, b = conv.params["W"], conv.params["b"]
    for i in range(3):
        for j in range(3):
            for f in range(2):
                expected = np.sum(x[0, i:i + 3, j:j + 3, :] * W[:, :, :, f]) + b[f]
                assert y[0, i, j, f] == pytest.approx(expected)


def test_maxpool():
    check_layer(L.MaxPool2D(2), (4, 6, 3), n=2)


def test_maxpool_odd_size_drops_the_edge():
    check_layer(L.MaxPool2D(2), (5, 5, 2), n=2)


@pytest.mark.parametrize("training", [True, False])
def test_maxpool_size_3(training):
    # training builds the routing masks in forward, inference lazily in backward
    check_layer(L.MaxPool2D(3), (7, 6, 2), n=2, training=training)


def test_batchnorm_training_and_inference():
    check_layer(L.BatchNorm(), (4,), n=6, training=True)
    check_layer(L.BatchNorm(), (3, 3, 2), n=2, training=True)
    check_layer(L.BatchNorm(), (4,), n=6, training=False)


def test_reshape_and_flatten():
    check_layer(L.Reshape((2, 3, 1)), (6,))
    check_layer(L.Flatten(), (2, 3, 2))


def test_softmax_cross_entropy():
    rng = np.random.default_rng(0)
    logits, y = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    _, d = softmax_cross_entropy(logits, y)
    np.testing.assert_allclose(d, numerical_grad(lambda: softmax_cross_entropy(logits, y)[0], logits), rtol=RTOL, atol=ATOL)


def test_softmax_cross_entropy_value_and_extremes():
    logits = np.array([[1000.0, 0.0], [0.0, 0.0]])
    loss, _ = softmax_cross_entropy(logits, np.array([0, 1]))
    assert loss == pytest.approx(np.log(2) / 2)


def test_mean_squared_error():
    rng = np.random.default_rng(0)
    a, y = rng.random((5, 4)), np.array([0, 3, 1, 1, 2])
    loss, d = mean_squared_error(a, y)
    onehot = np.eye(4)[y]
    assert loss == pytest.approx(0.5 * np.sum((a - onehot) ** 2) / 5)
    np.testing.assert_allclose(d, numerical_grad(lambda: mean_squared_error(a, y)[0], a), rtol=RTOL, atol=ATOL)


def network_check(arch, x_shape, seed=0):
    net = Network.from_architecture(arch, rng=np.random.default_rng(seed), dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    x = rng.random(x_shape)
    y = rng.integers(0, net.n_outputs, x_shape[0])

    def loss():
        from mnist_desktop.engine.losses import LOSSES
        return LOSSES[net.loss](net.forward(x, training=False), y)[0]

    net.loss_and_grads(x, y, training=False)
    for name, p, g, _ in net.param_slots():
        np.testing.assert_allclose(g.copy(), numerical_grad(loss, p), rtol=1e-4, atol=1e-7, err_msg=name)
    # and the input gradient, as explain.py uses it
    from mnist_desktop.engine.losses import LOSSES
    _, dout = LOSSES[net.loss](net.forward(x), y)
    dx = net.input_gradient(x, dout)
    np.testing.assert_allclose(dx, numerical_grad(loss, x), rtol=1e-4, atol=1e-7, err_msg="input")


@pytest.mark.parametrize("sizes,act,loss", [
    ([6, 5, 4, 3], "relu", "ce"),
    ([6, 4, 3], "sigmoid", "mse"),
    ([6, 4, 4, 3], "tanh", "ce"),
    ([6, 3], "relu", "ce"),
])
def test_whole_mlp(sizes, act, loss):
    network_check(mlp(sizes, act, loss), (4, 6))


def test_whole_cnn():
    arch = {"input_shape": [64], "loss": "ce", "layers": [
        {"type": "reshape", "shape": [8, 8, 1]},
        {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same"},
        {"type": "batchnorm"},
        {"type": "relu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "conv2d", "filters": 4, "kernel": 3},
        {"type": "tanh"},
        {"type": "flatten"},
        {"type": "dense", "units": 5},
        {"type": "relu"},
        {"type": "dense", "units": 3},
    ]}
    network_check(arch, (3, 64))
