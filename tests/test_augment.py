"""Augmentation: exact where it should be exact, random where it should be random, and usable by the Trainer."""

import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop.data.augment import (AUGMENTATIONS, LABEL_OPS, affine_transform, augment_batch, change_thickness,
                                        make_augmenter, parse_augment, pull_matrices, rotate)
from mnist_desktop.data.datasets import load_dataset
from mnist_desktop.engine import Network, TrainConfig, Trainer, mlp

ALL = list(AUGMENTATIONS)
UNLABELLED = [op for op in AUGMENTATIONS if op not in LABEL_OPS]  # the ops that work on images alone
LABELS = load_dataset(data_dir=Path(__file__).parent / "data").y_train[:64]


@pytest.fixture(scope="module")
def digits():
    """(64, 784) real MNIST digits from the committed subset (their labels: LABELS)."""
    return np.ascontiguousarray(load_dataset(data_dir=Path(__file__).parent / "data").x_train[:64])


def pattern(n=3, h=28, w=28, seed=0):
    """Asymmetric random images: any wrong flip or transpose shows."""
    return np.random.default_rng(seed).random((n, h, w)).astype(np.float32)


def reference_affine(x, m):
    """Bilinear sampling, zero outside, one pixel at a time: the definition affine_transform must meet."""
    N, H, W = x.shape
    out = np.zeros((N, H, W))
    for n in range(N):
        for r in range(H):
            for c in range(W):
                q = np.array([c - (W - 1) / 2, r - (H - 1) / 2])
                sx, sy = m[n, :, :2] @ q + m[n, :, 2] + [(W - 1) / 2, (H - 1) / 2]
                x0, y0 = int(np.floor(sx)), int(np.floor(sy))
                fx, fy = sx - x0, sy - y0

                def at(yy, xx):
                    return x[n, yy, xx] if 0 <= yy < H and 0 <= xx < W else 0.0

                out[n, r, c] = ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                                + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)))
    return out


def centre_of_mass(x):
    """(N, 784) -> (N, 2) (row, column) centres of mass."""
    img = x.reshape(-1, 28, 28)
    total = img.sum(axis=(1, 2))
    rows = (img.sum(axis=2) * np.arange(28)).sum(axis=1) / total
    cols = (img.sum(axis=1) * np.arange(28)).sum(axis=1) / total
    return np.stack([rows, cols], axis=1)


# ---- exact building blocks ------------------------------------------------------------------------

def test_identity_gives_the_input_back_exactly(digits):
    x = pattern()
    np.testing.assert_array_equal(affine_transform(x, pull_matrices()), x)
    np.testing.assert_array_equal(affine_transform(x, np.tile(pull_matrices(), (3, 1, 1))), x)
    np.testing.assert_array_equal(change_thickness(x, np.zeros(3)), x)
    rng = np.random.default_rng(0)
    same = augment_batch(digits, rng, UNLABELLED, max_angle=0, max_shift=0, scale_range=(1, 1), max_thickness=0,
                         max_shear=0, elastic_px=0)
    np.testing.assert_array_equal(same, digits)
    np.testing.assert_array_equal(augment_batch(digits, rng, []), digits)


@pytest.mark.parametrize("degrees, k", [(90, 1), (180, 2), (270, 3), (-90, 3), (360, 0), (450, 1)])
def test_rotation_by_right_angles_equals_rot90(degrees, k):
    x = pattern()
    np.testing.assert_array_equal(rotate(x, degrees), np.rot90(x, k, axes=(1, 2)))
    np.testing.assert_array_equal(rotate(x[0], degrees), np.rot90(x[0], k))  # a single (H, W) image


def test_positive_angle_is_counter_clockwise_as_displayed():
    x = np.zeros((1, 28, 28), np.float32)
    x[0, 13, 20] = 1  # right of the centre (13.5, 13.5), in the row just above it
    turned = rotate(x, 90)[0]
    assert np.argwhere(turned).tolist() == [[7, 13]]  # now above the centre: counter-clockwise
    assert np.argwhere(rotate(x, -90)[0]).tolist() == [[20, 14]]  # below it: clockwise


def test_matches_pixel_by_pixel_reference_including_far_outside():
    x = pattern(n=4, h=9, w=7)  # small and not square
    rng = np.random.default_rng(1)
    m = pull_matrices(rng.uniform(-180, 180, 4), rng.uniform(0.4, 2.5, 4), *rng.uniform(-6, 6, (2, 4)))
    np.testing.assert_allclose(affine_transform(x, m), reference_affine(x, m), atol=2e-6)
    m64 = pull_matrices(33, 1.3, 0.7, -0.2)
    out64 = affine_transform(x.astype(np.float64), m64)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, reference_affine(x.astype(np.float64), np.broadcast_to(m64, (4, 2, 3))),
                               atol=1e-12)


def test_whole_and_half_pixel_shifts():
    x = pattern(n=2)
    moved = affine_transform(x, pull_matrices(dx=3, dy=-2))  # 3 right, 2 up, zeros come in
    expected = np.zeros_like(x)
    expected[:, :-2, 3:] = x[:, 2:, :-3]
    np.testing.assert_array_equal(moved, expected)
    half = affine_transform(x, pull_matrices(dx=0.5))
    np.testing.assert_allclose(half[:, :, 1:], (x[:, :, :-1] + x[:, :, 1:]) / 2, atol=1e-6)
    np.testing.assert_allclose(half[:, :, 0], x[:, :, 0] / 2, atol=1e-6)  # half of it from outside: zero
    assert not affine_transform(x, pull_matrices(dx=40)).any()  # moved out of the frame


def test_scale_about_the_centre():
    x = np.zeros((1, 28, 28), np.float32)
    x[0, 13:15, 13:15] = 1  # a 2 x 2 block around the centre (13.5, 13.5)
    x[0, 13, 18] = 1        # a dot 4.5 px right of and 0.5 px above the centre
    big = affine_transform(x, pull_matrices(scale=2.0))[0]
    assert np.all(big[13:15, 13:15] == 1) and big[12, 13] == 0.75 and big[12, 12] == 0.5625  # now 4 x 4
    dot = big[:, 18:]
    rows, cols = np.indices(dot.shape)
    com = (rows * dot).sum() / dot.sum(), (cols * dot).sum() / dot.sum() + 18
    np.testing.assert_allclose(com, (12.5, 22.5), atol=1e-5)  # twice as far from the centre
    small = affine_transform(x, pull_matrices(scale=0.5))[0]
    assert small[13, 16] == 0.25 and np.count_nonzero(small[:, 15:]) == 1  # the dot at 2.25 px right


def test_thickness_is_grayscale_dilation_and_erosion():
    x = pattern(n=2)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    window = [padded[:, i:i + 28, j:j + 28] for i in range(3) for j in range(3)]
    plus = [padded[:, 1 + i:29 + i, 1 + j:29 + j] for i, j in ((-1, 0), (0, -1), (0, 0), (0, 1), (1, 0))]
    np.testing.assert_allclose(change_thickness(x, [1, 1]), np.max(window, axis=0), atol=1e-6)
    np.testing.assert_allclose(change_thickness(x, [-1, -1]), np.min(plus, axis=0), atol=1e-6)
    np.testing.assert_allclose(change_thickness(x, [0.25, -0.5]),
                               [0.75 * x[0] + 0.25 * np.max(window, axis=0)[0],
                                0.5 * x[1] + 0.5 * np.min(plus, axis=0)[1]], atol=1e-6)


def test_thickness_makes_strokes_thicker_and_thinner(digits):
    x = digits[:8].reshape(-1, 28, 28)
    ink = x.sum(axis=(1, 2))
    assert np.all(change_thickness(x, np.full(8, 0.8)).sum(axis=(1, 2)) > 1.3 * ink)
    thinner = change_thickness(x, np.full(8, -0.8)).sum(axis=(1, 2))
    assert np.all(thinner < 0.8 * ink) and np.all(thinner > 0.1 * ink)  # thinner, not erased


# ---- random augmentation --------------------------------------------------------------------------

def test_same_seed_same_output_and_input_untouched(digits):
    x = digits.copy()
    x.flags.writeable = False  # Dataset arrays are read-only
    a = augment_batch(x, np.random.default_rng(7), ALL, labels=LABELS)
    b = augment_batch(x, np.random.default_rng(7), ALL, labels=LABELS)
    c = augment_batch(x, np.random.default_rng(8), ALL, labels=LABELS)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(x, digits)


@pytest.mark.parametrize("ops", [[op] for op in AUGMENTATIONS] + [ALL])
def test_output_shape_dtype_range(digits, ops):
    out = augment_batch(digits, np.random.default_rng(0), ops, max_angle=30, scale_range=(0.7, 1.3), labels=LABELS)
    assert out.shape == digits.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    assert np.abs(out - digits).max() > 0.3  # it did change the images
    per_image = augment_batch(digits.reshape(-1, 28, 28), np.random.default_rng(0), ops, max_angle=30,
                              scale_range=(0.7, 1.3), labels=LABELS)
    assert per_image.shape == (64, 28, 28)
    np.testing.assert_array_equal(per_image.reshape(64, 784), out)


def test_each_image_gets_its_own_parameters():
    x = np.repeat(pattern(n=1), 6, axis=0).reshape(6, 784)
    out = augment_batch(x, np.random.default_rng(0), ["rotate"])
    assert len({o.tobytes() for o in out}) == 6


def test_shift_moves_the_centre_of_mass_by_at_most_about_max_shift(digits):
    out = augment_batch(digits, np.random.default_rng(3), ["shift"], max_shift=2.0)
    moved = centre_of_mass(out) - centre_of_mass(digits)
    assert np.abs(moved).max() <= 2.5
    assert np.abs(moved).max() > 1.0 and np.abs(moved.mean(axis=0)).max() < 0.6  # moved, both ways


def test_rotation_keeps_the_centre_and_the_ink(digits):
    out = augment_batch(digits, np.random.default_rng(4), ["rotate"], max_angle=15)
    assert np.abs(centre_of_mass(out) - centre_of_mass(digits)).max() < 1.5
    ratio = out.sum(axis=1) / digits.sum(axis=1)
    assert np.all((ratio > 0.9) & (ratio < 1.05))


def test_empty_batch():
    out = augment_batch(np.zeros((0, 784), np.float32), np.random.default_rng(0), ALL, labels=LABELS[:0])
    assert out.shape == (0, 784) and out.dtype == np.float32


def test_threads_do_not_share_scratch(digits):
    expected = [augment_batch(digits, np.random.default_rng(s), ALL, labels=LABELS) for s in range(4)]
    results = {}

    def work(seed):
        for _ in range(20):
            results[seed] = augment_batch(digits, np.random.default_rng(seed), ALL, labels=LABELS)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in range(4):
        np.testing.assert_array_equal(results[s], expected[s])


def test_large_batches_match_small_ones():
    x = np.tile(pattern(n=3), (700, 1, 1))  # 2,100 images: past the scratch-buffer size (8 MB)
    m = np.tile(pull_matrices([10, -20, 5], [1.0, 1.1, 0.9], [0.5, 0, -1], [0, 1.5, 0]), (700, 1, 1))
    big = affine_transform(x, m)
    np.testing.assert_array_equal(big[:3], affine_transform(x[:3], m[:3]))
    np.testing.assert_array_equal(big[-3:], big[:3])
    previous = affine_transform(x[:3], m[:3])
    affine_transform(x[:3] * 0, m[:3])  # reuse of scratch buffers does not touch returned arrays
    np.testing.assert_array_equal(previous, big[:3])


# ---- configuration --------------------------------------------------------------------------------

def test_make_augmenter_validates():
    with pytest.raises(ValueError, match="unknown augmentation 'flip' .*known: rotate, shift, scale, thickness"):
        make_augmenter(["rotate", "flip"])
    with pytest.raises(TypeError, match="unknown augmentation setting max_angel"):
        make_augmenter(["rotate"], max_angel=10)
    with pytest.raises(TypeError, match="parse_augment"):
        make_augmenter("rotate,shift")
    for bad in [{"max_angle": -1}, {"max_angle": float("nan")}, {"max_shift": 20},
                {"scale_range": (1.2, 0.8)}, {"scale_range": (0, 1)}, {"max_thickness": 2}]:
        with pytest.raises(ValueError):
            make_augmenter(ALL, **bad)
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_batch(np.zeros((1, 784), np.float32), np.random.default_rng(0), ["blur"])
    aug = make_augmenter(["shift", "rotate", "shift"], max_angle=10)
    assert aug.ops == ["shift", "rotate"] and aug.params["max_angle"] == 10 and "max_angle=10" in repr(aug)


def test_parse_augment():
    assert parse_augment("rotate,shift") == ["rotate", "shift"]
    assert parse_augment(" Rotate , thickness ") == ["rotate", "thickness"]
    assert parse_augment("rotate shift") == ["rotate", "shift"]
    assert parse_augment("all") == ALL
    assert parse_augment("") == [] and parse_augment("none") == []
    with pytest.raises(ValueError, match="unknown augmentation 'rotation' .*known: rotate"):
        parse_augment("rotation")


def test_augmenter_inside_trainer():
    rng = np.random.default_rng(0)
    x = rng.random((300, 784), dtype=np.float32)
    y = rng.integers(0, 10, 300)
    x.flags.writeable = y.flags.writeable = False
    calls = []
    augment = make_augmenter(ALL)
    assert augment.uses_labels and not make_augmenter(UNLABELLED).uses_labels

    def counting(xb, r, yb):
        calls.append(len(xb))
        assert len(yb) == len(xb) and set(yb) <= set(y)   # the Trainer passes each batch's labels
        out = augment(xb, r, yb)
        assert out.shape == xb.shape and out.dtype == np.float32
        return out

    counting.uses_labels = True

    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(1))
    trainer = Trainer(net, (x, y), (x[:50], y[:50]), TrainConfig(epochs=2, batch_size=64, augment=ALL), augment=counting)
    records = list(trainer.run())
    assert len(trainer.history) == 2 and np.isfinite(trainer.history[-1].loss)
    assert calls == [64, 64, 64, 64, 44] * 2
    assert len(records) == 2 * 5 + 2


def _augment_run(prefetch: bool, **cfg):
    rng = np.random.default_rng(4)
    x, y = rng.random((200, 784), dtype=np.float32), rng.integers(0, 10, 200)
    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(1))
    trainer = Trainer(net, (x, y), None, TrainConfig(batch_size=48, seed=3, **cfg), augment=make_augmenter(ALL),
                      prefetch=prefetch)
    return net, trainer


def test_prefetched_augmentation_gives_the_same_weights_as_a_plain_loop():
    """Augmenting the next batch in a background thread draws from the trainer's generator in the same
    order as augmenting in line, so a seeded run repeats bit for bit."""
    results = []
    for prefetch in (False, True):
        net, trainer = _augment_run(prefetch, epochs=2)
        losses = [r.loss for r in trainer.run() if hasattr(r, "batch")]
        results.append((losses, net.arrays()))
    assert results[0][0] == results[1][0]
    for k, v in results[0][1].items():
        np.testing.assert_array_equal(v, results[1][1][k])


def _augment_threads():
    return [t for t in threading.enumerate() if t.name.startswith("augment")]


def test_prefetch_thread_ends_with_the_run_cancelled_or_abandoned():
    net, trainer = _augment_run(True, epochs=3)
    run = trainer.run()
    next(run)
    assert _augment_threads()                # the next batch is under way beside the training
    trainer.cancel()
    assert list(run) == [] and trainer.cancelled
    assert not _augment_threads()
    net, trainer = _augment_run(True, epochs=3)
    run = trainer.run()
    next(run)
    run.close()                               # a caller that stops iterating
    assert not _augment_threads()


def test_an_augmentation_error_in_the_prefetch_thread_reaches_the_caller():
    def broken(xb, r):
        raise ValueError("bad augmentation")

    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(1))
    x = np.zeros((100, 784), np.float32)
    trainer = Trainer(net, (x, np.zeros(100, np.int64)), None, TrainConfig(batch_size=32), augment=broken)
    with pytest.raises(ValueError, match="bad augmentation"):
        list(trainer.run())
    assert not _augment_threads()
