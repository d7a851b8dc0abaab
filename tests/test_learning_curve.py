"""Learning curves without Qt: sizes and presets as typed, balanced slices, epochs per size, a real run on
the test subset (points in order, pause/cancel), JSON save/load and bad files; and the live-weight
snapshots (taken on a copy, their schedule, the capped log)."""

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop import explain
from mnist_desktop.data import load_dataset
from mnist_desktop.engine import Network
from mnist_desktop.engine.presets import get_preset
from mnist_desktop.learning_curve import (CurveFileError, CurveRun, balanced_slice, epochs_for, format_table,
                                          load_curve, parse_presets, parse_sizes, save_curve, settings_for)
from mnist_desktop.live_weights import (SnapshotLog, SnapshotSchedule, WeightSnapshot, digits_rgb, take_snapshot,
                                        weights_rgb)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist", DATA)


def test_sizes_and_presets_as_typed():
    assert parse_sizes("100, 300,1k,3K,10k,60k") == [100, 300, 1000, 3000, 10000, 60000]
    assert parse_sizes("1k,100,1000") == [100, 1000]
    assert parse_sizes("2.5k") == [2500]
    for bad, words in (("", "at least one"), ("abc", "cannot read"), ("5", "at least 10"), ("1.5", "whole")):
        with pytest.raises(ValueError, match=words):
            parse_sizes(bad)
    assert parse_presets("linear, cnn-seed,linear") == ["linear", "cnn-seed"]
    with pytest.raises(ValueError, match="unknown preset 'lenet'"):
        parse_presets("linear,lenet")


def test_slices_are_balanced_and_epochs_keep_the_images_seen(data):
    idx = balanced_slice(data.y_train, 200)
    assert np.bincount(data.y_train[idx], minlength=10).tolist() == [20] * 10
    idx = balanced_slice(data.y_train, 60000)          # more than the subset holds: all of each digit
    assert len(idx) == len(data.y_train)
    assert epochs_for(100, 64, 120_000) == 1200 and epochs_for(60000, 64, 120_000) == 2
    assert epochs_for(60000, 64, 1000) == 1
    arch, training = settings_for("mlp-128x2", 1000, 10_000, seed=3)
    assert arch == get_preset("mlp-128x2").architecture
    assert training["epochs"] == 10 and training["seed"] == 3 and training["schedule"] == "cosine"


def test_a_run_yields_each_point_in_order_and_saves(tmp_path, data):
    run = CurveRun(["linear", "mlp-128x2"], [200, 100], data, images=600)
    seen = []
    points = list(run.points(lambda *a: seen.append(a)))
    assert [(p.preset, p.size) for p in points] == [("linear", 100), ("linear", 200), ("mlp-128x2", 100),
                                                    ("mlp-128x2", 200)]
    assert [p.train_images for p in points] == [100, 200, 100, 200]
    assert [p.epochs for p in points] == [6, 3, 6, 3]
    assert ("linear", 100, 6, 6) in seen
    for p in points:
        assert 0.3 < p.test_acc <= 1 and 0.5 < p.train_acc <= 1 and p.seconds >= 0
    # more data helps a linear model on this subset
    assert points[1].test_acc > points[0].test_acc - 0.02
    result = run.result()
    assert result.complete and result.test_images == 1000 and not run.cancelled
    assert "linear" in format_table(result)
    save_curve(result, tmp_path / "c.json")
    back = load_curve(tmp_path / "c.json")
    assert back.points == result.points and back.presets == result.presets and back.complete


def test_cancel_stops_between_batches_and_keeps_the_finished_points(data):
    run = CurveRun(["linear"], [100, 1000], data, images=2000)

    def progress(preset, size, epoch, epochs):
        if size == 1000:               # the second point is under way: cancel it (as from another thread)
            run.cancel()

    points = list(run.points(progress))
    assert [p.size for p in points] == [100]
    assert run.cancelled and not run.result().complete and run.result().points == points


def test_unknown_presets_fail_before_anything_trains(data):
    with pytest.raises(ValueError, match="unknown preset"):
        CurveRun(["linear", "nope"], [100], data)


@pytest.mark.parametrize("content, words", [
    ("not json", "not JSON"),
    ('{"format": "something else"}', "not a learning-curve file"),
    ('{"format": "mnist-desktop learning curve", "version": 9}', "version 9"),
    ('{"format": "mnist-desktop learning curve", "version": 1, "presets": ["linear"], "sizes": [100]}', "missing"),
    ('{"format": "mnist-desktop learning curve", "version": 1, "presets": ["linear"], "sizes": [100], "images": 5, '
     '"points": [{"preset": "linear", "size": 100, "train_images": 100, "epochs": 1, "train_acc": 3, '
     '"test_acc": 0.5, "seconds": 1}]}', "impossible"),
])
def test_bad_curve_files_say_why_in_one_line(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CurveFileError, match=words) as info:
        load_curve(path)
    assert "\n" not in str(info.value) and "bad.json" in str(info.value)
    with pytest.raises(CurveFileError, match="cannot read"):
        load_curve(tmp_path / "missing.json")


# ---- live weights ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset, kind, shape", [("mlp-128x2", "dense", (32, 28, 28)), ("cnn-seed", "conv2d", (20, 5, 5))])
def test_a_snapshot_is_the_imagine_views_pictures_of_a_copy(preset, kind, shape):
    net = Network.from_architecture(get_preset(preset).architecture, rng=np.random.default_rng(0))
    before = {k: v.copy() for k, v in net.arrays().items()}
    snap = take_snapshot(net, 1.5, 120)
    assert snap.kind == kind and snap.tiles.shape == shape and snap.digits.shape == (10, 28, 28)
    assert snap.tiles.dtype == np.float16 and snap.label() == "epoch 1.50 (batch 120)"
    np.testing.assert_allclose(snap.tiles, explain.first_layer(net, 32).tiles, atol=2e-3, rtol=1e-2)
    np.testing.assert_allclose(snap.digits, explain.backproject_batch(net, np.arange(10)), atol=2e-3)
    for k, v in net.arrays().items():
        np.testing.assert_array_equal(v, before[k])
    assert weights_rgb(snap).dtype == np.uint8 and digits_rgb(snap).shape[2] == 3


def test_the_schedule_waits_for_batches_and_time():
    now = [0.0]
    s = SnapshotSchedule(every=100, min_seconds=0.5, clock=lambda: now[0])
    assert not s.due(50)
    now[0] = 0.2
    assert not s.due(100)           # enough batches, too soon
    now[0] = 0.6
    assert s.due(150) and not s.due(200)
    now[0] = 2.0
    s.mark(240)
    assert not s.due(300)
    now[0] = 3.0
    assert s.due(340)
    assert not s.due(341, epoch_end=True)     # an epoch's end: time only
    now[0] = 3.6
    assert s.due(342, epoch_end=True)


def test_the_log_keeps_at_most_cap_spread_over_the_run():
    log = SnapshotLog(cap=5)
    digits = np.zeros((10, 28, 28), np.float16)
    for i in range(23):
        log.add(WeightSnapshot(i / 10, i, None, None, 0, digits))
    assert len(log) <= 5
    batches = [s.batches for s in log.items]
    assert batches[0] == 0 and batches[-1] == 22 and batches == sorted(batches)
