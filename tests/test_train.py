"""The Trainer: records, cancel, pause/resume, divergence; optimizers and schedules."""

import math
import threading

import numpy as np
import pytest

from mnist_desktop.engine import (BatchRecord, EpochRecord, Network, TrainConfig, Trainer, TrainingDiverged,
                                  get_preset, PRESETS)
from mnist_desktop.engine.optim import scheduled_lr
from mnist_desktop.engine.train import PauseGate
from mnist_desktop.engine.presets import mlp, parse_layers


def blobs(n=600, seed=0):
    """Ten well-separated clusters in 784-d: any working optimizer learns them in an epoch or two."""
    rng = np.random.default_rng(seed)
    centres = rng.random((10, 784)).astype(np.float32)
    y = rng.integers(0, 10, n)
    x = np.clip(centres[y] + 0.1 * rng.standard_normal((n, 784)), 0, 1).astype(np.float32)
    return x, y


def make(sizes=(784, 32, 10), **cfg):
    net = Network.from_architecture(mlp(list(sizes)), rng=np.random.default_rng(0))
    x, y = blobs()
    return Trainer(net, (x[:500], y[:500]), (x[500:], y[500:]), TrainConfig(**cfg))


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.1), ("momentum", 0.05), ("adam", 1e-3)])
def test_every_optimizer_learns(optimizer, lr):
    tr = make(optimizer=optimizer, lr=lr, epochs=3, batch_size=32)
    epochs = [r for r in tr.run() if isinstance(r, EpochRecord)]
    assert [r.epoch for r in epochs] == [1, 2, 3]
    assert epochs[-1].test_acc > 0.9
    assert epochs[-1].loss < epochs[0].loss


def test_records_per_batch_and_epoch():
    tr = make(epochs=2, batch_size=100)
    records = list(tr.run())
    batches = [r for r in records if isinstance(r, BatchRecord)]
    assert len(batches) == 10 and batches[-1].batches == 5
    assert all(r.images_per_s > 0 and math.isfinite(r.loss) for r in batches)
    assert tr.history == [r for r in records if isinstance(r, EpochRecord)]


def test_seeded_runs_repeat_exactly():
    a, b = make(epochs=1, seed=3), make(epochs=1, seed=3)
    la = [r.loss for r in a.run()]
    lb = [r.loss for r in b.run()]
    assert la == lb


def test_cancel_between_batches():
    tr = make(epochs=5, batch_size=10)
    seen = 0
    for r in tr.run():
        seen += 1
        if seen == 7:
            tr.cancel()
    assert seen == 7 and tr.cancelled and tr.history == []


def test_pause_blocks_until_resumed():
    tr = make(epochs=1, batch_size=50)
    it = tr.run()
    next(it)
    tr.pause()
    got = []
    t = threading.Thread(target=lambda: got.append(next(it)))
    t.start()
    while not tr.held and t.is_alive():   # wait for the loop to park at its pause point, not a fixed time
        t.join(0.01)
    assert t.is_alive() and not got  # paused: no batch happens
    tr.resume()
    t.join(5)
    assert got and isinstance(got[0], BatchRecord)


def test_a_gate_shared_by_trainers_in_turn_pauses_and_cancels_the_one_running():
    """learning_curve.CurveRun hands its own PauseGate to each point's Trainer: pausing or cancelling the
    gate acts on whichever trainer runs, with no forwarding."""
    x, y = blobs()
    gate = PauseGate()

    def trainer():
        net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(0))
        return Trainer(net, (x, y), None, TrainConfig(epochs=1, batch_size=50), gate=gate)

    first = trainer()
    assert len(list(first.run())) == 13 and not first.cancelled      # 12 batches and the epoch
    second = trainer()
    it = second.run()
    next(it)
    gate.pause()
    assert second.paused
    got = []
    t = threading.Thread(target=lambda: got.extend(it))
    t.start()
    while not gate.held and t.is_alive():     # parked at the next batch's pause point
        t.join(0.01)
    assert gate.held and second.held and got == []
    gate.cancel()                              # wakes the parked loop, which stops
    t.join(10)
    assert not t.is_alive() and got == [] and second.cancelled and gate.cancel_requested


def test_divergence_restores_last_good_weights():
    tr = make(optimizer="sgd", lr=100.0, epochs=3, batch_size=10)
    initial = tr.net.snapshot()
    with pytest.raises(TrainingDiverged, match="learning rate") as info:
        for _ in tr.run():
            pass
    assert info.value.restored_epoch == 0
    for k, v in tr.net.arrays().items():
        np.testing.assert_array_equal(v, initial[k])


def test_l2_shrinks_weights():
    norms = []
    for l2 in (0.0, 0.05):
        tr = make(optimizer="sgd", lr=0.1, epochs=2, l2=l2)
        list(tr.run())
        norms.append(float(np.linalg.norm(tr.net.layers[0].params["W"])))
    assert norms[1] < norms[0]


def test_bad_config_is_refused():
    for bad in ({"epochs": 0}, {"lr": -1.0}, {"optimizer": "rmsprop"}, {"schedule": "zigzag"}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            make(**bad)


def test_schedules():
    assert scheduled_lr(0.1, "constant", 5.0, epochs=10) == 0.1
    assert scheduled_lr(0.1, "step", 0.5, epochs=9) == pytest.approx(0.1)
    assert scheduled_lr(0.1, "step", 3.0, epochs=9) == pytest.approx(0.01)
    assert scheduled_lr(0.1, "cosine", 0.0, epochs=10) == pytest.approx(0.1)
    assert scheduled_lr(0.1, "cosine", 5.0, epochs=10) == pytest.approx(0.05)
    assert scheduled_lr(0.1, "cosine", 10.0, epochs=10) == pytest.approx(0.0, abs=1e-12)


def test_presets_build_and_predict():
    x = blobs(4)[0]
    for name, preset in PRESETS.items():
        net = Network.from_architecture(preset.architecture, rng=np.random.default_rng(0))
        p = net.predict_proba(x)
        assert p.shape == (4, 10) and np.allclose(p.sum(axis=1), 1, atol=1e-5), name
        TrainConfig(**preset.training).validate()
    assert get_preset("nielsen-30").architecture["loss"] == "mse"
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("resnet")


@pytest.mark.parametrize("text,msg", [("784-x-10", "whole numbers"), ("784", "at least"), ("100-10", "784"),
                                      ("784-30-9", "10"), ("", "look like"), ("784--10", "look like")])
def test_parse_layers_rejects_nonsense(text, msg):
    with pytest.raises(ValueError, match=msg):
        parse_layers(text)


def test_parse_layers():
    assert parse_layers("784-128-64-10") == [784, 128, 64, 10]
    assert parse_layers("784,30,10") == [784, 30, 10]


def test_mse_network_probabilities_sum_to_one():
    net = Network.from_architecture(mlp([784, 8, 10], "sigmoid", "mse"), rng=np.random.default_rng(0))
    p = net.predict_proba(blobs(3)[0])
    assert np.allclose(p.sum(axis=1), 1)


def test_nan_loss_is_divergence_and_keeps_the_last_epoch():
    tr = make(optimizer="sgd", lr=0.1, epochs=3, batch_size=50)
    calls = {"n": 0}
    real_step = tr.train_step

    def step(xb, yb):  # poison the inputs once the first epoch is done
        calls["n"] += 1
        if calls["n"] > 12:
            xb = np.full_like(xb, np.nan)
        return real_step(xb, yb)

    tr.train_step = step
    with pytest.raises(TrainingDiverged, match="nan") as info:
        for r in tr.run():
            if isinstance(r, EpochRecord):
                after_epoch_1 = tr.net.snapshot()
    assert info.value.restored_epoch == 1 and info.value.epoch == 2
    for k, v in tr.net.arrays().items():
        np.testing.assert_array_equal(v, after_epoch_1[k])


def test_cancel_during_end_of_epoch_scoring_stops_within_a_chunk():
    """A Stop pressed while the epoch is being scored should not wait for the whole test set."""
    from mnist_desktop.engine import train

    x, y = blobs(600 + 4 * train.SCORE_CHUNK, seed=1)
    net = Network.from_architecture(mlp([784, 8, 10]), rng=np.random.default_rng(0))
    tr = Trainer(net, (x[:600], y[:600]), (x[600:], y[600:]), TrainConfig(epochs=2, batch_size=100))
    calls = []
    real_predict = net.predict

    def predict(xb, batch_size=1000):
        calls.append(len(xb))
        if len(calls) == 3:   # training sample (600: two chunks), then the first test chunk
            tr.cancel()
        return real_predict(xb, batch_size)

    net.predict = predict
    records = list(tr.run())
    assert tr.cancelled and tr.history == [] and not any(isinstance(r, EpochRecord) for r in records)
    assert calls == [train.SCORE_CHUNK, 600 - train.SCORE_CHUNK, train.SCORE_CHUNK]


def test_chunked_scoring_counts_like_one_pass():
    tr = make(epochs=1, batch_size=50, train_eval_size=0)
    [epoch] = [r for r in tr.run() if isinstance(r, EpochRecord)]
    from mnist_desktop.engine.train import accuracy
    assert epoch.train_acc == accuracy(tr.net, tr.x_train, tr.y_train)
    assert epoch.test_acc == accuracy(tr.net, *tr.test)


@pytest.mark.parametrize("l2,dtypes", [(0.0, ("float32", "float32")), (0.01, ("float32", "float32")),
                                       (0.0, ("float64", "float32"))])
def test_adam_is_the_textbook_update_on_every_parameter(l2, dtypes):
    """Adam keeps its moments in flat arrays (one group per dtype): every parameter still gets
    m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, p -= lr m_hat / (sqrt(v_hat) + eps), with l2 on weights."""
    from mnist_desktop.engine.optim import Adam

    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 2, 3)]
    params = [rng.standard_normal(s).astype(dtypes[i % 2]) for i, s in enumerate(shapes)]
    grads = [np.zeros_like(p) for p in params]
    decay = [True, False, True]
    ref = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(r) for r in ref]
    v = [np.zeros_like(r) for r in ref]
    opt = Adam([(f"p{i}", p, g, d) for i, (p, g, d) in enumerate(zip(params, grads, decay))], lr=0.01, l2=l2)
    for t in range(1, 6):
        for i, (g, r, d) in enumerate(zip(grads, ref, decay)):
            g[...] = rng.standard_normal(g.shape)
            gt = g.astype(np.float64) + (l2 * r if d else 0)
            m[i] = 0.9 * m[i] + 0.1 * gt
            v[i] = 0.999 * v[i] + 0.001 * gt ** 2
            r -= 0.01 * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
        opt.step()
        for p, r in zip(params, ref):
            np.testing.assert_allclose(p, r, rtol=1e-4, atol=1e-5)
