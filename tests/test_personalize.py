"""Teach it your handwriting: the method (no Qt), the collection folder, and `mnist-desktop adapt`."""

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop import cli, personalize
from mnist_desktop.collection import Collection
from mnist_desktop.data import load_dataset
from mnist_desktop.data.augment import change_thickness, rotate
from mnist_desktop.drawing import Drawing, read_drawing
from mnist_desktop.engine.serialize import load, save
from mnist_desktop.shipped import EXAMPLES_DIR, resolve_model

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def subset():
    return load_dataset("mnist", DATA)


@pytest.fixture(scope="module")
def mlp():
    return load(resolve_model("mlp"))


def styled(x):
    """A handwriting 'style' far from MNIST: every digit slanted 30 degrees and drawn with a thick pen."""
    images = x.reshape(-1, 28, 28)
    return np.clip(change_thickness(rotate(images, -30.0), 1.0), 0, 1).reshape(-1, 784).astype(np.float32)


def pick(y, k, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == d), k, replace=False) for d in range(10)])


def test_adapting_learns_a_style_and_keeps_mnist_within_half_a_point(subset, mlp):
    """Three users with the same far-from-MNIST style (3 examples per digit each): their other digits are
    read better, and MNIST accuracy on the committed test subset stays within half a point (mean)."""
    net, _ = mlp
    x, y = styled(subset.x_test), subset.y_test
    before_arrays = net.snapshot()
    gains, mnist = [], []
    for seed in range(3):
        ex = pick(y, 3, seed)
        rest = np.setdiff1d(np.arange(len(y)), ex)
        result = personalize.adapt(net, personalize.Examples(x[ex], y[ex]), replay=personalize.load_replay(),
                                   settings=personalize.AdaptSettings(seed=seed))
        gains.append(np.mean(result.net.predict(x[rest]) == y[rest]) - np.mean(net.predict(x[rest]) == y[rest]))
        mnist.append(np.mean(result.net.predict(subset.x_test) == subset.y_test))
    # the base network is untouched
    assert all(np.array_equal(v, net.arrays()[k]) for k, v in before_arrays.items())
    assert min(gains) > 0.015, gains
    base = np.mean(net.predict(subset.x_test) == subset.y_test)
    assert np.mean(mnist) >= base - 0.005, (base, mnist)


def test_the_head_is_the_last_two_dense_layers(mlp):
    net, _ = mlp
    assert personalize.head_start(net) == 3            # 784-512 stays, 512-512-10 adapts
    cnn, _ = load(resolve_model("cnn"))
    start = personalize.head_start(cnn)
    assert cnn.layers[start - 1].kind == "flatten" and cnn.layers[start].kind == "dense"


def test_cancel_stops_and_produces_nothing(subset, mlp):
    ex = personalize.Examples(subset.x_test[:20], subset.y_test[:20])
    with pytest.raises(personalize.AdaptCancelled):
        personalize.adapt(mlp[0], ex, should_stop=lambda: True)


def test_bad_inputs_are_clear_errors(mlp, make_model):
    with pytest.raises(personalize.AdaptError, match="no examples"):
        personalize.adapt(mlp[0], personalize.Examples(np.zeros((0, 784)), np.zeros(0)))
    with pytest.raises(ValueError, match="digits 0-9"):
        personalize.Examples(np.zeros((1, 784)), [11])


def test_cross_validation_never_scores_a_digit_with_a_model_that_saw_it(subset, mlp, monkeypatch):
    x, y = styled(subset.x_test), subset.y_test
    ex = pick(y, 2)
    examples = personalize.Examples(x[ex], y[ex])
    seen_by_fold = []
    fit = personalize._Prepared.fit

    def spy(self, keep=None, **kw):
        seen_by_fold.append(set(np.asarray(keep).tolist()))
        return fit(self, keep, **kw)

    monkeypatch.setattr(personalize._Prepared, "fit", spy)
    cv = personalize.cross_validate(mlp[0], examples, replay=personalize.load_replay(), folds=4)
    fold = personalize.fold_assignment(examples.labels, 4)
    for f, seen in enumerate(seen_by_fold):
        assert not seen & set(np.flatnonzero(fold == f).tolist())
    assert cv.n == 20 and cv.folds == 4
    assert cv.after_accuracy >= cv.before_accuracy
    assert set(cv.fixed) <= set(np.flatnonzero(cv.after == cv.labels))


def test_the_spec_records_base_examples_and_method(tmp_path, subset, mlp):
    net, spec = mlp
    ex = personalize.Examples(subset.x_test[:30], subset.y_test[:30])
    result = personalize.adapt(net, ex, settings=personalize.AdaptSettings(steps=5))
    new_spec = personalize.adapted_spec(result, spec, resolve_model("mlp"))
    save(result.net, tmp_path / "mine.npz", new_spec)
    loaded, got = load(tmp_path / "mine.npz")
    a = got["adaptation"]
    assert a["method"] == personalize.METHOD and a["examples"] == 30
    assert a["base"]["name"] == spec["name"] and sum(a["per_digit"]) == 30
    assert a["memory_units"] == (20 if a["memory_weight"] else 0)   # no replay: no guard, the full weight
    assert personalize.base_model_path(got) == resolve_model("mlp").resolve()
    np.testing.assert_allclose(loaded.predict_proba(subset.x_test[:50]), result.net.predict_proba(subset.x_test[:50]),
                               atol=1e-6)


def test_labels_come_from_the_label_key_then_the_file_name(tmp_path):
    a = tmp_path / "x_3.json"
    a.write_text(json.dumps({"label": 5}))
    assert personalize.drawing_label(a) == 5                   # the key wins
    b = tmp_path / "0042_7.json"
    b.write_text("{}")
    assert personalize.drawing_label(b) == 7
    c = tmp_path / "seven.json"
    c.write_text("{}")
    with pytest.raises(ValueError, match="seven.json: no label"):
        personalize.drawing_label(c)
    d = tmp_path / "bad_1.json"
    d.write_text(json.dumps({"label": "one"}))
    with pytest.raises(ValueError, match='bad_1.json: "label" must be a digit'):
        personalize.drawing_label(d)


def test_collection_add_remove_undo_import_export(tmp_path):
    coll = Collection(tmp_path / "mine")
    drawing = read_drawing(EXAMPLES_DIR / "digit-7.json")
    p = coll.add(drawing, 7)
    assert p.name.endswith("_7.json") and json.loads(p.read_text())["label"] == 7
    assert read_drawing(p).strokes == read_drawing(p).strokes    # still an ordinary drawing file
    coll.add(drawing, 1)
    assert coll.counts()[7] == 1 and coll.counts()[1] == 1
    assert coll.still_needed()[7] == 2
    removed = coll.remove([p])
    assert coll.counts()[7] == 0
    assert coll.restore(removed) == 1 and coll.counts()[7] == 1
    out = tmp_path / "exported"
    assert coll.export(out) == 2
    other = Collection(tmp_path / "other")
    (out / "unlabelled.json").write_text((EXAMPLES_DIR / "digit-3.json").read_text())
    added, problems = other.import_files([out])
    assert len(added) == 2 and len(problems) == 1 and "unlabelled.json: no label" in problems[0]


def _write_labelled(folder: Path, copies: int = 2) -> None:
    """copies x ten example drawings, slightly moved, named like 0042_7.json."""
    folder.mkdir()
    for d in range(10):
        base = read_drawing(EXAMPLES_DIR / f"digit-{d}.json")
        for c in range(copies):
            strokes = [[(x + 6 * c, y - 4 * c) for x, y in s] for s in base.strokes]
            d2 = Drawing(base.width, base.height, base.pen_width, strokes)
            (folder / f"{c:04d}_{d}.json").write_text(personalize.labelled_drawing_json(d2, d))


def test_cli_adapt_round_trip(tmp_path, capsys):
    folder = tmp_path / "mine"
    _write_labelled(folder)
    out = tmp_path / "mlp-mine.npz"
    assert cli.main(["adapt", str(folder), "--model", "mlp", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 20 and report["per_digit"] == [2] * 10
    net, spec = load(out)
    assert spec["adaptation"]["base"]["name"] == "mlp-512x2"
    # the new file works with predict, and reads the user's digits
    assert cli.main(["predict", "--model", str(out), "--json", *map(str, sorted(folder.glob("*.json")))]) == 0
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert all(r["digit"] == personalize.label_from_name(r["file"]) for r in lines)
    # with its own calibration beside it ("not a digit" / "unsure" use the adapted weights' scores)
    assert report["calibration"] == str(out.with_suffix(".calib"))
    assert all(r["calibrated"] and r["verdict"] == "digit" for r in lines)
    # adapting the adapted model starts again from its base
    out2 = tmp_path / "again.npz"
    assert cli.main(["adapt", str(folder), "--model", str(out), "--out", str(out2), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["base"] == str(resolve_model("mlp"))


def test_cli_adapt_bad_files_write_nothing(tmp_path, capsys):
    folder = tmp_path / "mine"
    _write_labelled(folder, copies=1)
    (folder / "nolabel.json").write_text((EXAMPLES_DIR / "digit-3.json").read_text())
    (folder / "broken_4.json").write_text("{not json")
    out = tmp_path / "x.npz"
    assert cli.main(["adapt", str(folder), "--model", "mlp", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert any("nolabel.json: no label" in line for line in err)
    assert any("broken_4.json" in line and "JSON" in line for line in err)
    assert err[-1].endswith("nothing was written")
    assert not out.exists() and not list(tmp_path.glob("*.npz"))
    assert cli.main(["adapt", str(folder / "0000_1.json"), "--model", "mlp", "--out", str(tmp_path / "y.txt")]) == 2


def test_the_class_mean_memory_is_folded_into_the_last_layer_exactly(mlp):
    """fold_prototypes adds weight * (-|f - m_c|^2 / 2s) to the outputs, up to a shift shared by all
    classes (so the probabilities are those of the blend); a digit without examples gets the mean."""
    net, _ = mlp
    net = net.copy()
    head = net.layers[personalize.head_start(net):]
    rng = np.random.default_rng(0)
    feats = rng.random((40, head[0].params["W"].shape[0])).astype(np.float32)
    labels = np.repeat(np.arange(8), 5)                    # digits 8 and 9 have no examples

    def outputs_and_penultimate(x):
        h = x
        for layer in head[:-1]:
            h = layer.forward(h, False, False)
        return head[-1].forward(h, False, False).astype(np.float64), h.astype(np.float64)

    before, f = outputs_and_penultimate(feats)
    personalize.fold_prototypes(head, feats, labels, 0.7)
    after, _ = outputs_and_penultimate(feats)
    means = np.stack([f[labels == c].mean(0) for c in range(8)])
    s = np.mean(((f - means[labels]) ** 2).sum(1))
    memory = -((f[:, None, :] - means[None]) ** 2).sum(2) / (2 * s)             # (n, 8)
    shift = (f ** 2).sum(1, keepdims=True) / (2 * s)
    np.testing.assert_allclose((after - before)[:, :8], 0.7 * (memory + shift), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose((after - before)[:, 8], 0.7 * (memory + shift).mean(1), rtol=1e-3, atol=1e-3)


def test_the_memory_cannot_override_ordinary_digits(subset, mlp):
    """An absurd memory weight is stepped down (MEMORY_STEPS, then dropped) until blends of held-out replay
    digits are read as the base network reads them (agreement), so MNIST digits keep their reading."""
    net, _ = mlp
    x, y = styled(subset.x_test), subset.y_test
    ex = pick(y, 3)
    results = [personalize.adapt(net, personalize.Examples(x[ex], y[ex]), replay=personalize.load_replay(),
                                 settings=personalize.AdaptSettings(prototype=p, steps=30))
               for p in (0.0, 1e4)]
    assert results[0].memory_weight == 0
    assert results[1].memory_weight in [0.0, *(1e4 * f for f in personalize.MEMORY_STEPS[1:])]
    plain, memory = (r.net.predict(subset.x_test) for r in results)
    assert np.mean(memory == plain) >= 0.99


def test_the_test_like_guard_picks_the_largest_weight_it_allows(subset, mlp):
    """With the two easier checks switched off, the memory's weight is the largest of prototype x
    MEMORY_STEPS for which the replay digits distorted like hard test digits (test_like) change their reading
    no more than test_flips (0.8) x as often as the base network misreads them (or than the trained head
    alone changes it), and the full weight is refused."""
    net, _ = mlp
    x, y = styled(subset.x_test), subset.y_test
    ex = personalize.Examples(x[pick(y, 3)], y[pick(y, 3)])
    replay = personalize.load_replay()
    settings = personalize.AdaptSettings(steps=30, prototype=16.0, agreement=0.0, guard_agreement=0.0)
    result = personalize.adapt(net, ex, replay=replay, settings=settings)
    prep = personalize._Prepared(net, ex, replay, settings, None, None)           # the same features, seeded
    plain, _ = personalize._Prepared(net, ex, replay, personalize.AdaptSettings(steps=30, prototype=0.0),
                                     None, None).fit()                            # the same head, no memory
    start = personalize.head_start(net)
    base = personalize._head_predict(net, start, prep.t_feats)
    out = personalize._head_outputs(plain.layers[start:], prep.t_feats).astype(np.float64)
    W, b = personalize.memory_terms(prep.u_feats, prep.u_labels)
    mem = prep.t_feats.astype(np.float64) @ W + b
    assert prep.t_agreement == pytest.approx(1 - settings.test_flips * np.mean(base != replay.labels))
    assert settings.test_flips == 0.8
    share = min(prep.t_agreement, np.mean(out.argmax(1) == base))
    agree = {f: np.mean((out + 16.0 * f * mem).argmax(1) == base) for f in personalize.MEMORY_STEPS}
    assert agree[1] < share                                                # 16 would move MNIST's digits
    allowed = [16.0 * f for f in personalize.MEMORY_STEPS if agree[f] >= share]
    assert 0 < result.memory_weight == allowed[0] < 16.0
    got = personalize._head_predict(result.net, start, prep.t_feats)     # the file's network, memory folded in
    assert np.mean(got == base) >= share - 1e-9


def test_the_replay_file_ships_its_test_like_digits_and_a_bad_one_is_refused(tmp_path):
    """The shipped file holds test_like(images) as uint8 (so no first adaptation computes them); a file
    without them computes the same on first use; a damaged or mis-shaped file is an AdaptError, not a crash."""
    shipped = personalize.load_replay()
    fresh = personalize.test_like(shipped.images)
    assert shipped.test_images is not None
    assert np.abs(shipped.test_like_images() - fresh).max() <= 0.5 / 255 + 1e-6, \
        "the shipped test-like digits are not test_like(images): run scripts/replay_file.py"
    with np.load(personalize.REPLAY_FILE, allow_pickle=False) as z:
        images, labels = z["images"][:50], z["labels"][:50]
    np.savez(tmp_path / "plain.npz", images=images, labels=labels)
    plain = personalize.load_replay(tmp_path / "plain.npz")
    assert plain.test_images is None
    np.testing.assert_array_equal(plain.test_like_images(), personalize.test_like(plain.images))
    np.savez(tmp_path / "wrong.npz", images=images, labels=labels, test_like=images[:10])
    with pytest.raises(personalize.AdaptError, match="test-like"):
        personalize.load_replay(tmp_path / "wrong.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(personalize.AdaptError, match="cannot be read"):
        personalize.load_replay(tmp_path / "broken.npz")
    whole = personalize.REPLAY_FILE.read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[:len(whole) * 3 // 5])          # a download cut short
    with pytest.raises(personalize.AdaptError, match="cannot be read"):
        personalize.load_replay(tmp_path / "cut.npz")


def test_replay_features_are_computed_once_per_base_network(subset, mlp, monkeypatch):
    """A second adaptation of the same network computes the trunk features of the user's digits only (the
    replay and test-like digits' come from the cache, equal to a fresh computation); a network with another
    trunk does not use them."""
    net, _ = mlp
    ex = personalize.Examples(subset.x_test[:20], subset.y_test[:20])
    replay = personalize.load_replay()
    personalize.clear_replay_cache()
    totals = []
    settings = personalize.AdaptSettings(copies=2)

    def count(done, total, what):
        totals.append(total)

    prep = personalize._Prepared(net, ex, replay, settings, count, None)
    again = personalize._Prepared(net, ex, replay, settings, count, None)
    assert totals[0] == 40 + 2 * len(replay.labels) and totals[-1] == 40
    assert again.t_feats is prep.t_feats
    np.testing.assert_array_equal(again.r_feats, prep.r_feats)
    trunk = net.inference_copy()
    fresh = personalize.trunk_features(trunk, personalize.head_start(trunk), replay.test_like_images())
    np.testing.assert_allclose(prep.t_feats, fresh, rtol=1e-5, atol=1e-6)
    other = net.copy()
    other.layers[0].params["W"][0, 0] += 1.0
    totals.clear()
    personalize._Prepared(other, ex, replay, settings, count, None)
    assert totals[-1] == 40 + 2 * len(replay.labels)


def test_the_memory_of_the_head_s_input_rides_on_twenty_more_units_exactly(tmp_path, mlp):
    """widen_with_memory: the adapted network's outputs are the old ones plus weight x (f W + b) for any
    features f, signs included (f W < 0 goes through the second unit of each pair), and the file holds an
    ordinary dense layer 20 units wider; the base network is untouched."""
    net, _ = mlp
    start = personalize.head_start(net)
    head = net.layers[start:]
    assert personalize.can_widen(head) and not personalize.can_widen(head[:1] + head[-1:])
    rng = np.random.default_rng(0)
    f = rng.random((40, head[0].params["W"].shape[0])).astype(np.float32)
    W, b = personalize.memory_terms(f[:30], np.repeat(np.arange(6), 5))   # 6-9: the others' average
    W -= W.mean()                                                           # some f W negative
    wide = personalize.widen_with_memory(net, start, W, b, 2.5)
    before = personalize._head_outputs(head, f).astype(np.float64)
    after = personalize._head_outputs(wide.layers[start:], f).astype(np.float64)
    np.testing.assert_allclose(after, before + 2.5 * (f.astype(np.float64) @ W + b), rtol=1e-4, atol=1e-3)
    assert wide.layers[start].units == head[0].units + 20 and net.layers[start].units == head[0].units
    save(wide, tmp_path / "wide.npz")
    again, _ = load(tmp_path / "wide.npz")
    x = rng.random((5, 784)).astype(np.float32)
    np.testing.assert_array_equal(again.predict_proba(x), wide.predict_proba(x))


def test_an_adapted_model_s_calibration_does_not_call_ordinary_digits_not_a_digit(subset, mlp):
    """Its calibration comes from only 3,000 replay digits: the distance limit is taken from held-out
    distances, so MNIST test digits are rarely flagged (fitted and scored on the same digits, 4% were)."""
    from mnist_desktop.adapt_check import adapted_calibration
    from mnist_desktop.confidence import model_digest, outputs_and_features

    net, _ = mlp
    x, y = styled(subset.x_test), subset.y_test
    ex = personalize.Examples(x[pick(y, 3)], y[pick(y, 3)])
    replay = personalize.load_replay()
    result = personalize.adapt(net, ex, replay=replay, settings=personalize.AdaptSettings(steps=30))
    cal = adapted_calibration(result.net, replay, ex)
    out, f = outputs_and_features(result.net, subset.x_test)
    assert np.mean(cal.unfamiliar(out, f)) <= 0.01
    assert cal.digest == model_digest(result.net)


def test_replay_features_are_computed_once_when_two_ask_at_the_same_time(mlp, monkeypatch):
    """The window prepares a model while an Adapt click asks for the same features: one computes, the
    other waits and takes its result."""
    import threading

    net, _ = mlp
    replay = personalize.load_replay()
    personalize.clear_replay_cache()
    calls, gate = [], threading.Event()
    features = personalize.trunk_features

    def slow(*args, **kwargs):
        calls.append(1)
        gate.wait(10)
        return features(*args, **kwargs)

    monkeypatch.setattr(personalize, "trunk_features", slow)
    got = []
    threads = [threading.Thread(target=lambda: got.append(personalize.replay_features(net, replay))) for _ in range(2)]
    for t in threads:
        t.start()
    while not calls:
        threading.Event().wait(0.01)
    gate.set()
    for t in threads:
        t.join(30)
    assert len(calls) == 2 and got[0] is got[1]          # one computation: the replay and test-like blocks
    with pytest.raises(personalize.AdaptCancelled):      # a waiting caller can still be cancelled
        personalize.clear_replay_cache()
        with personalize._replay_compute_lock:
            personalize.replay_features(net, replay, should_stop=lambda: True)
