"""The engine's own threads (batches split between them give the same numbers and gradients), the BLAS
pool set at run time, and memory: nothing cached between passes, copies of parameters only, inference
in bounded chunks. Speed is measured in benchmarks/, never here."""

import threading

import numpy as np
import pytest

from mnist_desktop.engine import Network, Trainer, TrainConfig, layers as L, threads
from mnist_desktop.engine.presets import cnn_bn, cnn_seed, mlp

from test_engine_grads import check_layer


@pytest.fixture
def two_threads(monkeypatch):
    """Two engine threads, and every split worth a hand-off: the parallel paths run even on tiny inputs."""
    old = threads.threads()
    threads.set_threads(2)
    monkeypatch.setattr(threads, "MIN_PART_FLOPS", 1)
    monkeypatch.setattr(threads, "MIN_PART_ELEMENTS", 1)
    yield
    threads.set_threads(old)


def test_split_covers_the_range_in_order():
    assert threads.split(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert threads.split(10, 3, min_size=6) == [(0, 10)]
    assert threads.split(1, 4) == [(0, 1)]
    assert threads.split(0, 2) == [(0, 0)]


def test_parallel_map_keeps_order_runs_on_two_threads_and_raises(two_threads):
    seen = set()

    def f(i):
        seen.add(threading.get_ident())
        return i * i

    barrier = threading.Barrier(2, timeout=10)
    assert threads.parallel_map(lambda i: (barrier.wait(), f(i))[1], [1, 2]) == [1, 4]  # both at once
    assert len(seen) == 2

    def boom(i):
        if i == 2:
            raise ValueError("part 2")
        return i

    with pytest.raises(ValueError, match="part 2"):
        threads.parallel_map(boom, [1, 2, 3])
    assert threads.parallel_map(boom, [1, 3]) == [1, 3]  # the pool still works


def test_nested_and_concurrent_callers_run_sequentially_instead_of_waiting(two_threads):
    # a part that itself splits (a pool thread) and a second caller while the pool is busy: no deadlock
    inner = threads.parallel_map(lambda i: threads.parallel_map(lambda j: i * 10 + j, [1, 2]), [1, 2])
    assert inner == [[11, 12], [21, 22]]
    results = []
    workers = [threading.Thread(target=lambda: results.append(threads.parallel_map(lambda j: j, [1, 2, 3])))
               for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert results == [[1, 2, 3]] * 3


def test_blas_pool_is_set_at_run_time():
    before = threads.blas_threads()
    if before is None:
        pytest.skip("no BLAS library threadpoolctl knows")
    try:
        threads.set_blas_threads(2)
        assert threads.blas_threads() == 2
        threads.set_blas_threads(1)
        assert threads.blas_threads() == 1
    finally:
        threads.set_blas_threads(before)


def test_default_threads_reads_the_environment(monkeypatch):
    monkeypatch.setenv(threads.ENV_THREADS, "3")
    assert threads.default_threads() == 3
    for bad in ("0", "-2", "many", ""):
        monkeypatch.setenv(threads.ENV_THREADS, bad)
        assert 1 <= threads.default_threads() <= threads.MAX_DEFAULT_THREADS


# ---- split batches: the same gradients ------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("padding,c", [("valid", 1), ("same", 2), ("valid", 3)])
def test_conv2d_gradients_with_the_batch_split(two_threads, padding, c, training):
    conv = L.Conv2D(3, kernel=3, padding=padding)
    check_layer(conv, (6, 5, c), n=4, training=training)


@pytest.mark.parametrize("way", ["convolution", "scatter"])
def test_conv2d_dx_both_ways_with_the_batch_split(two_threads, way):
    conv = L.Conv2D(3, kernel=3, padding="same")
    conv._dx_by_convolution = lambda *shape: way == "convolution"
    check_layer(conv, (5, 6, 2), n=3, training=True)


@pytest.mark.parametrize("training", [True, False])
def test_maxpool_gradients_with_the_batch_split(two_threads, training):
    check_layer(L.MaxPool2D(2), (5, 6, 2), n=4, training=training)


@pytest.mark.parametrize("arch", [cnn_seed(), cnn_bn(channels=(4, 6), kernel=3, hidden=16, double=True)],
                         ids=["cnn-seed", "cnn-bn"])
def test_a_training_step_is_the_same_on_one_or_two_threads(monkeypatch, arch):
    """Same seed, same data: outputs, loss and every gradient agree (float64: in float32 the sums in
    another order differ by more than the batch norm's cancelling gradients are worth)."""
    x = np.random.default_rng(0).random((16, 784))
    y = np.arange(16) % 10
    results = []
    for n in (1, 2):
        old = threads.threads()
        threads.set_threads(n)
        monkeypatch.setattr(threads, "MIN_PART_FLOPS", 1 if n == 2 else threads.MIN_PART_FLOPS)
        monkeypatch.setattr(threads, "MIN_PART_ELEMENTS", 1 if n == 2 else threads.MIN_PART_ELEMENTS)
        try:
            net = Network.from_architecture(arch, rng=np.random.default_rng(1), dtype=np.float64)
            loss, out = net.loss_and_grads(x, y)
            grads = [g.copy() for _, _, g, _ in net.param_slots()]
            results.append((loss, out, grads, net.predict_proba(x)))
        finally:
            threads.set_threads(old)
    (l1, o1, g1, p1), (l2, o2, g2, p2) = results
    assert l1 == pytest.approx(l2, rel=1e-12)
    np.testing.assert_allclose(o1, o2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(p1, p2, rtol=1e-10, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


# ---- memory ------------------------------------------------------------------------------------

def cached(net: Network) -> list[str]:
    """'<layer index>.<attribute>' for every activation a layer still holds."""
    return [f"{i}.{name}" for i, layer in enumerate(net.layers) for name in layer._cache
            if getattr(layer, name, None) is not None]


@pytest.fixture
def cnn():
    return Network.from_architecture(cnn_bn(channels=(4, 6), kernel=3, hidden=16, double=True),
                                     rng=np.random.default_rng(0))


def test_inference_keeps_no_activations(cnn):
    x = np.random.default_rng(0).random((30, 784), dtype=np.float32)
    cnn.predict_proba(x)
    assert cached(cnn) == []
    cnn.forward(x, keep=False)
    assert cached(cnn) == []


def test_a_training_step_leaves_no_activations_behind(cnn):
    x = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    cnn.forward(x, training=True)
    assert cached(cnn)  # kept for backward ...
    cnn.backward(np.ones((8, 10), np.float32))
    assert cached(cnn) == []  # ... and dropped by it
    cnn.input_gradient(x, np.ones((8, 10), np.float32))
    assert cached(cnn) == []


def test_copy_copies_parameters_and_buffers_only(cnn):
    x = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    cnn.forward(x, training=True)  # activations cached in the original
    twin = cnn.copy()
    assert cached(twin) == []
    for (k, a), (k2, b) in zip(cnn.arrays().items(), twin.arrays().items()):
        assert k == k2 and a is not b and not np.shares_memory(a, b)
        np.testing.assert_array_equal(a, b)
    for layer, other in zip(cnn.layers, twin.layers):
        assert layer is not other
        for k in layer.grads:
            assert not np.shares_memory(layer.grads[k], other.grads[k])
    np.testing.assert_array_equal(twin.predict_proba(x), cnn.predict_proba(x))
    twin.layers[1].params["W"] += 1
    assert not np.array_equal(twin.layers[1].params["W"], cnn.layers[1].params["W"])


def test_copy_has_its_own_rng_in_the_same_state_shared_by_its_dropout_layers():
    net = Network.from_architecture(mlp([784, 32, 32, 10], dropout=0.5), rng=np.random.default_rng(0))
    twin = net.copy()
    drops = [l for l in twin.layers if l.kind == "dropout"]
    assert twin.rng is not net.rng and all(d.rng is twin.rng for d in drops)
    x = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    np.testing.assert_array_equal(net.forward(x, training=True), twin.forward(x, training=True))


def test_a_copy_trains_like_the_original():
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    y = np.arange(64) % 10
    a = Network.from_architecture(cnn_seed(), rng=np.random.default_rng(2))
    b = a.copy()
    for net in (a, b):
        tr = Trainer(net, (x, y), None, TrainConfig(epochs=1, batch_size=32))
        list(tr.run())
    for (k, u), v in zip(a.arrays().items(), b.arrays().values()):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6, err_msg=k)


def test_inference_runs_in_chunks_chosen_from_the_layer_sizes(cnn, monkeypatch):
    chunk = cnn.inference_chunk()
    big = Network.from_architecture(cnn_seed(), rng=np.random.default_rng(0))
    small = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(0))
    assert 1 <= big.inference_chunk() < small.inference_chunk()
    sizes = []
    forward = Network.forward
    monkeypatch.setattr(Network, "forward", lambda self, x, *a, **kw: (sizes.append(len(x)), forward(self, x, *a, **kw))[1])
    x = np.random.default_rng(0).random((2 * chunk + 3, 784), dtype=np.float32)
    probs = cnn.predict_proba(x)
    assert sizes == [chunk, chunk, 3]
    monkeypatch.setattr(Network, "forward", forward)
    np.testing.assert_allclose(probs, cnn.predict_proba(x, batch_size=len(x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients_with_the_rows_split(two_threads, training):
    check_layer(L.BatchNorm(), (3, 4, 2), n=4, training=training)


# ---- data-parallel training steps ------------------------------------------------------------------

def test_a_training_step_splits_the_whole_batch_and_matches_one_thread(two_threads):
    """cnn-seed (dropout, no batch norm) trains each half of a batch on its own thread through every layer:
    the same outputs, input gradient and parameter gradients as one pass (float64), the replicas share the
    parameters, and nothing stays cached afterwards."""
    x = np.random.default_rng(0).random((12, 784))
    dout = np.random.default_rng(1).standard_normal((12, 10))
    split = Network.from_architecture(cnn_seed(), rng=np.random.default_rng(3), dtype=np.float64)
    whole = split.copy()
    whole.data_parallel = False   # the per-layer path
    out_s = split.forward(x, training=True)
    assert split._parts is not None and len(split._parts) == 2
    replica = split._replicas[0]
    assert all(r.params is l.params for r, l in zip(replica.layers, split.layers))
    out_w = whole.forward(x, training=True)
    np.testing.assert_allclose(out_s, out_w, rtol=1e-12)
    dx_s = split.backward(dout, need_input_grad=True)
    dx_w = whole.backward(dout, need_input_grad=True)
    np.testing.assert_allclose(dx_s, dx_w, rtol=1e-10, atol=1e-14)
    for (_, _, a, _), (_, _, b, _) in zip(split.param_slots(), whole.param_slots()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-14)
    assert cached(split) == [] and cached(replica) == []
    assert split.copy()._replicas == []   # a copy trains on its own parameters


@pytest.mark.parametrize("n", [12, 13])   # an even split, and one where the parts' shares are not powers of 2
def test_loss_and_grads_runs_each_part_forward_loss_and_backward_in_one_hand_off(two_threads, n):
    """The fused step (each thread: forward, its share of the loss, backward) gives the one-pass loss,
    outputs and gradients (float64), with the same dropout masks, and leaves nothing cached."""
    x = np.random.default_rng(0).random((n, 784))
    y = np.random.default_rng(1).integers(0, 10, n)
    split = Network.from_architecture(cnn_seed(), rng=np.random.default_rng(3), dtype=np.float64)
    whole = split.copy()
    whole.data_parallel = False
    assert split._training_parts(n) is not None and len(split._training_parts(n)) == 2
    loss_s, out_s = split.loss_and_grads(x, y)
    loss_w, out_w = whole.loss_and_grads(x, y)
    assert loss_s == pytest.approx(loss_w, rel=1e-12)
    np.testing.assert_allclose(out_s, out_w, rtol=1e-12)
    for (_, _, a, _), (_, _, b, _) in zip(split.param_slots(), whole.param_slots()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-14)
    assert cached(split) == [] and all(cached(r) == [] for r in split._replicas)
    assert split._parts is None


def test_the_layer_layout_is_worked_out_for_each_layer_list():
    """The run order and layer kinds are cached per layer list: an inference copy (batch norms folded
    away) does not keep its original's, which still list the batch norms."""
    net = Network.from_architecture(cnn_bn(channels=(4, 6), kernel=3, hidden=16), rng=np.random.default_rng(0))
    order, kinds = net._layout()
    assert "batchnorm" in kinds and len(order) == len(net.layers)
    fast = net.inference_copy()
    order, kinds = fast._layout()
    assert "batchnorm" not in kinds and sorted(order) == list(range(len(fast.layers)))
    assert net._layout()[1] >= {"batchnorm", "conv2d"}   # the original's own, unchanged


def test_networks_without_a_convolution_train_on_one_thread(two_threads):
    """An MLP's step is many short NumPy calls: split between two threads it was slower than on one."""
    net = Network.from_architecture(mlp([784, 32, 32, 10], dropout=0.2), rng=np.random.default_rng(0))
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    net.forward(x, training=True)
    assert net._parts is None
    net.backward(np.ones((64, 10), np.float32))
    assert net._replicas == []


def test_replicas_follow_parameters_converted_in_place(two_threads):
    net = Network.from_architecture(cnn_seed(), rng=np.random.default_rng(0))
    x = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    net.backward(net.forward(x, training=True))
    net.astype(np.float64)
    out = net.forward(x.astype(np.float64), training=True)
    net.backward(np.ones_like(out))
    assert out.dtype == np.float64
    assert all(g.dtype == np.float64 for layer in net._replicas[0].layers for g in layer.grads.values())


# ---- the C allocator ---------------------------------------------------------------------------------

GLIBC = __import__("platform").libc_ver()[0] == "glibc"


def _page_faults_of_repeated_steps(env_extra: dict) -> tuple[bool, int]:
    """In a fresh process: (allocator.applied, minor page faults over 10 training steps after a warm-up)."""
    import os
    import subprocess
    import sys
    code = (
        "import resource, numpy as np\n"
        "from mnist_desktop.engine import Network, allocator\n"
        "from mnist_desktop.engine.presets import cnn_seed\n"
        "net = Network.from_architecture(cnn_seed(), rng=np.random.default_rng(0))\n"
        "x = np.random.default_rng(0).random((64, 784), dtype=np.float32)\n"
        "def step():\n"
        "    out = net.forward(x, training=True)\n"
        "    net.backward(np.ones_like(out) / 64)\n"
        "for _ in range(5): step()\n"
        "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(10): step()\n"
        "print(allocator.applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(MNIST_DESKTOP_THREADS="1", **env_extra)
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    applied, faults = out.split()
    return applied == "True", int(faults)


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_training_steps_reuse_freed_memory_instead_of_faulting_in_new_pages():
    """glibc's default thresholds hand a training step's megabytes back to the system after every step
    (cnn-seed: ~1,000 page faults per step on one thread); the engine's thresholds keep them."""
    applied, faults = _page_faults_of_repeated_steps({})
    assert applied and faults < 100
    chosen, faults_default = _page_faults_of_repeated_steps({"MALLOC_TRIM_THRESHOLD_": str(128 * 1024)})
    assert not chosen           # the environment's choice is left alone
    assert faults_default > 1000  # and then every step faults its pages in again
