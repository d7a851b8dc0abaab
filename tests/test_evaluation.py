"""evaluation.py: the confusion matrix adds up, damage is exact at 0 and real above it, the rotation
curve, comparing two models, and the cache of results per model file."""

import os
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop.data import load_dataset
from mnist_desktop.engine import serialize
from mnist_desktop.engine.network import Network
from mnist_desktop.engine.presets import mlp
from mnist_desktop.evaluation import (Damage, EvaluationCache, add_noise, cell_indices, change_strokes, compare,
                                      damage, evaluate, model_file_key, rotate_images, rotation_curve,
                                      shift_images)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def test_set():
    ds = load_dataset(data_dir=DATA)
    return ds.x_test[:300], ds.y_test[:300]        # (300, 784), (300,)


def tiny_net(seed=0):
    return Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(seed))


def test_confusion_sums_to_n_and_its_diagonal_is_the_correct_count(test_set):
    x, y = test_set
    e = evaluate(tiny_net(), x, y)
    c = e.confusion
    assert c.shape == (10, 10) and c.sum() == e.n == len(y)
    assert np.trace(c) == e.correct == np.count_nonzero(e.predicted == y)
    np.testing.assert_array_equal(c.sum(axis=1), np.bincount(y, minlength=10))       # rows: true digits
    np.testing.assert_array_equal(c.sum(axis=0), np.bincount(e.predicted, minlength=10))
    for t, p in [(3, 3), (4, 9), (int(y[0]), int(e.predicted[0]))]:
        idx = cell_indices(e, t, p)
        assert len(idx) == c[t, p] and np.all(y[idx] == t) and np.all(e.predicted[idx] == p)


def test_evaluate_stops_when_asked(test_set):
    x, y = test_set
    calls = []
    assert evaluate(tiny_net(), x, y, batch_size=100, should_stop=lambda: len(calls) > 0,
                    progress=lambda d, t: calls.append(d)) is None
    assert calls == [100]


@pytest.mark.parametrize("fn", [
    lambda x, s: rotate_images(x, 25 * s),
    lambda x, s: add_noise(x, 0.3 * s, seed=1),
    lambda x, s: change_strokes(x, 1.0 * s),
    lambda x, s: change_strokes(x, -0.6 * s),
    lambda x, s: shift_images(x, 2 * s, seed=1),
    lambda x, s: damage(x, Damage(rotate=10 * s, noise=0.1 * s, thickness=0.5 * s, shift=1 * s)),
], ids=["rotate", "noise", "thicker", "thinner", "shift", "all"])
def test_damage_is_nothing_at_zero_and_something_above(test_set, fn):
    x = test_set[0].copy()
    before = x.copy()
    same = fn(x, 0)
    assert same.shape == x.shape and same.dtype == x.dtype
    np.testing.assert_array_equal(same, before)                    # bit-identical at strength 0
    hurt = fn(x, 1)
    np.testing.assert_array_equal(x, before)                       # the input is never modified
    assert hurt.shape == x.shape and hurt.dtype == np.float32
    assert hurt.min() >= 0 and hurt.max() <= 1
    assert np.abs(hurt - x).mean() > 0.005
    np.testing.assert_array_equal(fn(x, 1), hurt)                  # deterministic given the seed


def test_damage_geometry_is_augments(test_set):
    x = test_set[0][:5]
    # a quarter turn is exact (np.rot90), whole-pixel shifts move pixels exactly
    np.testing.assert_array_equal(rotate_images(x, 90).reshape(5, 28, 28), np.rot90(x.reshape(5, 28, 28), axes=(1, 2)))
    moved = shift_images(x, 3, seed=0).reshape(5, 28, 28)
    img = x.reshape(5, 28, 28)
    for m, i in zip(moved, img):
        assert m.sum() == pytest.approx(i.sum(), rel=1e-6)         # MNIST has 4 empty pixels at each edge
        assert any(np.array_equal(m, np.roll(i, s, axis=a)) for a in (0, 1) for s in (3, -3))
    thicker, thinner = change_strokes(x, 1), change_strokes(x, -1)
    assert (thicker >= x).all() and (thinner <= x).all()
    assert (thicker > 0).sum() > (x > 0).sum() > (thinner > 0).sum()


def test_damage_ranges_are_checked():
    Damage(rotate=-60, noise=0.5, thickness=-2, shift=4).validate()
    with pytest.raises(ValueError, match="noise"):
        Damage(noise=2).validate()
    assert Damage().describe() == "undamaged" and Damage().is_none
    assert Damage(rotate=30, noise=0.2).describe() == "rotated 30°, noise σ 0.2"


def test_rotation_curve_matches_evaluating_rotated_digits(test_set):
    x, y = test_set
    net = tiny_net(1)
    seen = []
    curve = rotation_curve(net, x, y, angles=[-30, 0, 45], batch_size=100, progress=lambda d, t: seen.append((d, t)))
    assert curve.angles.tolist() == [-30, 0, 45]
    for a, acc in zip(curve.angles, curve.accuracy):
        assert acc == pytest.approx(evaluate(net, rotate_images(x, a), y).accuracy)
    assert seen[-1] == (900, 900) and len(seen) == 9
    assert rotation_curve(net, x, y, should_stop=lambda: True) is None


def test_compare_lists_the_digits_one_model_gets_right_and_the_other_wrong(test_set):
    x, y = test_set
    a, b = evaluate(tiny_net(2), x, y), evaluate(tiny_net(3), x, y)
    c = compare(a, b)
    right_a, right_b = a.predicted == y, b.predicted == y
    assert c.accuracy_a == a.accuracy and c.accuracy_b == b.accuracy
    assert all(right_a[i] and not right_b[i] for i in c.only_a)
    assert all(right_b[i] and not right_a[i] for i in c.only_b)
    assert len(c.only_a) - len(c.only_b) == a.correct - b.correct
    assert c.n_disagree + c.both_wrong + np.count_nonzero(right_a & right_b) == len(y)
    assert len(compare(a, a).only_a) == 0
    with pytest.raises(ValueError):
        compare(a, evaluate(tiny_net(2), x[:10], y[:10]))


def save_tiny(path, seed):
    net = tiny_net(seed)
    serialize.save(net, path, serialize.model_spec(net, name=path.stem))
    return net


def test_the_cache_gives_the_same_object_until_the_file_changes(tmp_path, test_set):
    x, y = test_set
    path = tmp_path / "m.npz"
    net = save_tiny(path, 0)
    cache = EvaluationCache(size=2)
    assert cache.get(path, "test") is None
    first = evaluate(net, x, y)
    cache.put(path, "test", first)
    assert cache.get(path, "test") is first
    assert cache.get(str(tmp_path / "." / "m.npz"), "test") is first         # the same file, another spelling
    assert cache.get(path, ("test", Damage(rotate=10))) is None                # another test set
    key = model_file_key(path)
    save_tiny(path, 1)                                                         # saved over: new weights
    os.utime(path, ns=(key[2] + 10**9, key[2] + 10**9))                        # (even within one mtime tick)
    assert model_file_key(path) != key and cache.get(path, "test") is None
    cache.put(path, "test", evaluate(serialize.load(path)[0], x, y))
    cache.put(path, "other", first)
    cache.put(path, "third", first)
    assert len(cache) == 2 and cache.get(path, "test") is None                 # oldest dropped
    assert cache.get(tmp_path / "missing.npz", "test") is None
    cache.put(tmp_path / "missing.npz", "test", first)                         # nothing to key on: not kept
    assert len(cache) == 2


@pytest.mark.parametrize("workers", [2, 3])
def test_evaluating_in_threads_gives_the_same_result_and_reports_progress_to_the_end(workers):
    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(0))
    x = np.random.default_rng(1).random((1050, 784), dtype=np.float32)
    y = np.arange(1050) % 10
    one = evaluate(net, x, y, batch_size=100)
    seen = []
    many = evaluate(net, x, y, batch_size=100, workers=workers, progress=lambda d, t: seen.append((d, t)))
    np.testing.assert_array_equal(many.probabilities, one.probabilities)
    assert seen[-1] == (1050, 1050) and all(d <= t for d, t in seen)


def test_evaluating_in_threads_stops_when_asked():
    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(0))
    x = np.zeros((2000, 784), np.float32)
    assert evaluate(net, x, np.zeros(2000, int), batch_size=10, workers=2, should_stop=lambda: True) is None
