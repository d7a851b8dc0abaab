"""The fast paths of the engine give the same numbers as plain, obviously-correct code.

Speed itself is measured by benchmarks/train_speed.py, never here; these tests pin down behaviour the
optimisations could silently change: chunking, the single-channel im2col, tie-breaking in max pooling,
skipped input gradients, float32 staying float32.
"""

import numpy as np
import pytest

from mnist_desktop.engine import Network, TrainConfig, Trainer, layers as L
from mnist_desktop.engine.presets import cnn_seed


def direct_conv(x, W, b, pad):
    """Reference: loops over the kernel offsets; x (N, H, W, C), W (k, k, C, F) -> (N, Ho, Wo, F)."""
    k = W.shape[0]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    n, hp, wp, _ = xp.shape
    ho, wo = hp - k + 1, wp - k + 1
    y = np.zeros((n, ho, wo, W.shape[3]))
    for i in range(k):
        for j in range(k):
            y += np.einsum("nhwc,cf->nhwf", xp[:, i:i + ho, j:j + wo, :], W[i, j])
    return y + b


def reference_pool(x, s):
    """Reference max pooling: values and the gradient of sum(y * dy) through argmax (first maximum)."""
    n, h, w, c = x.shape
    ho, wo = h // s, w // s
    win = x[:, :ho * s, :wo * s].reshape(n, ho, s, wo, s, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, ho, wo, c, s * s)
    arg = win.argmax(axis=-1)
    return win.max(axis=-1), arg


@pytest.mark.parametrize("shape,filters,kernel,padding", [
    ((9, 8, 1), 4, 5, "valid"),
    ((7, 7, 1), 3, 3, "same"),
    ((8, 6, 3), 5, 3, "valid"),
    ((6, 7, 2), 4, 5, "same"),
])
@pytest.mark.parametrize("chunked", [False, True])
def test_conv_forward_matches_direct_correlation(shape, filters, kernel, padding, chunked):
    rng = np.random.default_rng(0)
    conv = L.Conv2D(filters, kernel, padding)
    conv.build(shape, rng, np.float64)
    conv.params["b"][:] = rng.standard_normal(filters)
    if chunked:
        conv.max_chunk = 1  # one image per chunk
    x = rng.standard_normal((5, *shape))
    np.testing.assert_allclose(conv.forward(x, training=True),
                               direct_conv(x, conv.params["W"], conv.params["b"], conv.pad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c", [1, 3])
def test_conv_chunked_and_rebuilt_columns_give_the_same_gradients(c):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 10, 9, c)).astype(np.float32)
    results = []
    for max_chunk, max_kept in [(1 << 20, 1 << 24), (200, 1 << 24), (200, 1), (1 << 20, 1)]:
        conv = L.Conv2D(4, 3, "same")
        conv.build(x.shape[1:], np.random.default_rng(2), np.float32)
        conv.max_chunk, conv.max_kept = max_chunk, max_kept
        if max_chunk == 200:  # really one image per chunk
            assert len(conv._chunks(0, 7, 90, 3 * 3 * c + 1, c)) == 7
        y = conv.forward(x, training=True)
        dy = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
        dx = conv.backward(dy)
        results.append((y, dx, conv.grads["W"].copy(), conv.grads["b"].copy()))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)  # float32 sums in another order


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("c", [1, 8, 16])
def test_both_ways_to_dx_agree(padding, c):
    rng = np.random.default_rng(0)
    conv = L.Conv2D(6, 3, padding)
    out = conv.build((10, 9, c), rng, np.float32)
    x = rng.random((5, 10, 9, c), dtype=np.float32)
    dy = rng.standard_normal((5, *out)).astype(np.float32)
    conv.forward(x, training=True)
    by_conv = conv._dx_convolution(dy)
    conv._dx_by_convolution = lambda *shape: False
    by_scatter = conv.backward(dy)
    np.testing.assert_allclose(by_conv, by_scatter, rtol=1e-4, atol=1e-5)
    assert by_conv.shape == x.shape and by_conv.dtype == np.float32


def test_dx_way_is_chosen_by_shape():
    conv = L.Conv2D(4, 3, "same")
    assert conv._dx_by_convolution(32, 28 * 28, 28 * 28)
    assert not conv._dx_by_convolution(1, 28 * 28, 28 * 28)      # first layer: scatter
    assert not conv._dx_by_convolution(20, 12 * 12, 8 * 8)       # cnn-seed's valid conv: 2.25x the work


def test_conv_without_input_gradient_computes_the_same_parameter_gradients():
    rng = np.random.default_rng(0)
    conv = L.Conv2D(3, 5)
    conv.build((12, 12, 1), rng, np.float32)
    x = rng.random((4, 12, 12, 1), dtype=np.float32)
    dy = rng.standard_normal((4, 8, 8, 3)).astype(np.float32)
    conv.forward(x, training=True)
    assert conv.backward(dy, need_dx=False) is None
    gW, gb = conv.grads["W"].copy(), conv.grads["b"].copy()
    conv.forward(x, training=True)
    assert conv.backward(dy, need_dx=True).shape == x.shape
    np.testing.assert_array_equal(gW, conv.grads["W"])
    np.testing.assert_array_equal(gb, conv.grads["b"])


def test_predicting_a_big_batch_keeps_columns_small():
    # 1,000 images through a 'same' 5x5 conv with 8 channels would need 630 MB of columns at once
    conv = L.Conv2D(2, 5, "same")
    conv.build((28, 28, 8), np.random.default_rng(0), np.float32)
    per_image = 28 * 28 * (5 * 5 * 8 + 1)
    chunks = conv._chunks(0, 1000, 28 * 28, 5 * 5 * 8 + 1)
    # at most max_chunk floats of columns, or one image when a single image is bigger than that
    assert len(chunks) > 1 and max(e - s for s, e in chunks) * per_image <= max(conv.max_chunk, per_image)
    x = np.random.default_rng(1).random((20, 28, 28, 8), dtype=np.float32)
    y = conv.forward(x, training=False)
    assert conv._cols is None
    np.testing.assert_allclose(y, direct_conv(x, conv.params["W"], conv.params["b"], 2), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size,shape", [(2, (8, 8, 3)), (2, (7, 9, 2)), (3, (9, 7, 2))])
@pytest.mark.parametrize("training", [True, False])
def test_maxpool_matches_argmax_routing_with_ties(size, shape, training):
    rng = np.random.default_rng(0)
    # small integers: many exact ties, including whole windows of zeros as after a ReLU
    x = np.maximum(rng.integers(-2, 3, (4, *shape)), 0).astype(np.float32)
    pool = L.MaxPool2D(size)
    pool.build(shape, rng, np.float32)
    y = pool.forward(x, training=training)
    ref_y, arg = reference_pool(x, size)
    np.testing.assert_array_equal(y, ref_y)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = pool.backward(dy)
    # every window sends its whole gradient to exactly one element: its first maximum
    n, h, w, c = x.shape
    ho, wo = h // size, w // size
    expected = np.zeros_like(x)
    for idx in np.ndindex(n, ho, wo, c):
        b, i, j, ch = idx
        di, dj = divmod(int(arg[idx]), size)
        expected[b, i * size + di, j * size + dj, ch] = dy[idx]
    np.testing.assert_array_equal(dx, expected)


def test_batchnorm_statistics_survive_a_large_offset_in_float32():
    # E[x^2] - E[x]^2 in float32 would get the variance wrong by several per cent here
    rng = np.random.default_rng(0)
    bn = L.BatchNorm()
    bn.build((6, 6, 4), rng, np.float32)
    x = (3000 + rng.standard_normal((16, 6, 6, 4))).astype(np.float32)
    y = bn.forward(x, training=True).reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(y.std(axis=0), 1, rtol=1e-3)


def test_batchnorm_inference_is_the_running_affine_map():
    rng = np.random.default_rng(0)
    bn = L.BatchNorm()
    bn.build((5,), rng, np.float64)
    bn.params["gamma"][:] = rng.random(5) + 0.5
    bn.params["beta"][:] = rng.standard_normal(5)
    bn.buffers["mean"][:] = rng.standard_normal(5)
    bn.buffers["var"][:] = rng.random(5) + 0.1
    x = rng.standard_normal((3, 5))
    expected = (x - bn.buffers["mean"]) / np.sqrt(bn.buffers["var"] + bn.eps) * bn.params["gamma"] + bn.params["beta"]
    np.testing.assert_allclose(bn.forward(x, training=False), expected, rtol=1e-12)


class Spy(L.Layer):
    """Passes values through and records the need_dx it was asked for."""

    kind = "spy"

    def __init__(self):
        super().__init__()
        self.asked = []

    def forward(self, x, training=False, keep=True):
        return x

    def backward(self, dy, need_dx=True):
        self.asked.append(need_dx)
        return dy if need_dx else None


def test_backward_skips_input_gradients_before_the_first_parametrised_layer():
    rng = np.random.default_rng(0)
    spy_in, spy_mid = Spy(), Spy()
    net = Network([L.Reshape((6, 6, 1)), spy_in, L.Conv2D(2, 3), spy_mid, L.Flatten(), L.Dense(3)],
                  (36,), rng=rng)
    x, y = rng.random((2, 36), dtype=np.float32), np.array([0, 2])
    net.loss_and_grads(x, y)
    assert spy_mid.asked == [True] and spy_in.asked == []  # nothing before the conv is visited
    dx = net.input_gradient(x, np.ones((2, 3), np.float32))
    assert dx.shape == (2, 36) and spy_in.asked == [True]


def cnn(padding="valid", bn=False):
    layers = [{"type": "reshape", "shape": [28, 28, 1]},
              {"type": "conv2d", "filters": 4, "kernel": 5, "padding": padding}]
    layers += [{"type": "batchnorm"}] if bn else []
    layers += [{"type": "relu"}, {"type": "maxpool2d", "size": 2}, {"type": "dropout", "p": 0.2},
               {"type": "conv2d", "filters": 6, "kernel": 3, "padding": padding}]
    layers += [{"type": "batchnorm"}] if bn else []
    layers += [{"type": "relu"}, {"type": "maxpool2d", "size": 2}, {"type": "flatten"},
               {"type": "dense", "units": 10}]
    return {"input_shape": [784], "loss": "ce", "layers": layers}


@pytest.mark.parametrize("arch", [cnn_seed(), cnn("same", bn=True)], ids=["cnn-seed", "same-bn"])
def test_float32_stays_float32(arch):
    rng = np.random.default_rng(0)
    net = Network.from_architecture(arch, rng=rng)
    x = rng.random((3, 784), dtype=np.float32)
    h = net._as_input(x)
    outs = []
    for layer in net.layers:
        h = layer.forward(h, training=True)
        outs.append(h)
    assert all(o.dtype == np.float32 for o in outs)
    d = np.ones_like(h)
    for layer in reversed(net.layers):
        d = layer.backward(d)
        assert d.dtype == np.float32, layer
    assert all(g.dtype == np.float32 for _, _, g, _ in net.param_slots())
    assert net.predict_proba(x[:1]).dtype == np.float32


def test_a_small_cnn_still_learns():
    # two blob positions to tell apart: a few Adam steps must fit them
    rng = np.random.default_rng(0)
    x = np.zeros((64, 28, 28), np.float32)
    y = rng.integers(0, 2, 64)
    for i, label in enumerate(y):
        r = 4 + 14 * label + rng.integers(0, 4)
        x[i, r:r + 6, 10:16] = 1
    net = Network.from_architecture(cnn("same", bn=True), rng=np.random.default_rng(1))
    trainer = Trainer(net, (x.reshape(64, 784), y), None, TrainConfig(batch_size=32, lr=3e-3))
    first = trainer.train_step(x[:32].reshape(32, 784), y[:32])[0]
    for _ in range(10):
        for b in (0, 32):
            loss, _ = trainer.train_step(x[b:b + 32].reshape(32, 784), y[b:b + 32])
    assert loss < 0.3 * first
    assert np.mean(net.predict(x.reshape(64, 784)) == y) == 1.0


def test_inference_copy_folds_batch_norms_and_predicts_the_same():
    """Batch norms after dense/conv2d layers are folded into them; trained-like statistics, same outputs."""
    from mnist_desktop.engine.presets import cnn_bn

    net = Network.from_architecture(cnn_bn(channels=(4, 8), kernel=3, hidden=16, double=True),
                                    rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for layer in net.layers:               # statistics and affine parameters as after training
        if layer.kind == "batchnorm":
            c = layer.params["gamma"].shape[0]
            layer.params["gamma"][...] = rng.uniform(0.5, 2, c)
            layer.params["beta"][...] = rng.normal(0, 0.5, c)
            layer.buffers["mean"][...] = rng.normal(0, 0.5, c)
            layer.buffers["var"][...] = rng.uniform(0.2, 3, c)
    x = rng.random((20, 784), dtype=np.float32)
    before = {k: v.copy() for k, v in net.arrays().items()}
    folded = net.inference_copy()
    assert not any(l.kind == "batchnorm" for l in folded.layers)
    assert len(folded.shapes) == len(folded.layers) + 1 and folded.shapes[-1] == (10,)
    np.testing.assert_allclose(folded.predict_proba(x), net.predict_proba(x), rtol=1e-4, atol=1e-6)
    for k, v in net.arrays().items():      # the original is untouched
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("arch", [cnn_seed(), cnn("valid", bn=True)], ids=["cnn-seed", "valid-bn"])
def test_relu_before_a_pool_runs_after_it_with_the_same_numbers(arch):
    """Network runs relu -> maxpool as maxpool -> relu (a quarter of the values): outputs, input gradient
    and parameter gradients equal those of the layers run one by one in their declared order."""
    rng = np.random.default_rng(0)
    net = Network.from_architecture(arch, rng=rng)
    order = net._order()
    assert order != list(range(len(net.layers)))
    x = rng.random((6, 784), dtype=np.float32) - 0.3   # negative inputs: windows whose maximum is <= 0
    dout = rng.standard_normal((6, 10)).astype(np.float32)
    out = net.forward(x, training=False)
    dx = net.backward(dout, need_input_grad=True)
    grads = [g.copy() for _, _, g, _ in net.param_slots()]
    h = net._as_input(x)
    for layer in net.layers:
        h = layer.forward(h, training=False)
    np.testing.assert_array_equal(out, h)
    d = dout
    for layer in reversed(net.layers):
        d = layer.backward(d)
    np.testing.assert_array_equal(dx, d.reshape(dx.shape))
    for a, (_, _, b, _) in zip(grads, net.param_slots()):
        np.testing.assert_array_equal(a, b)
