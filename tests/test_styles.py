"""Style synthesis (data/styles.py), the new generic distortions (shear, elastic), the style test set
(data/style_testset.py) and fine-tuning from a model file (train --init-from)."""

from pathlib import Path

import numpy as np
import pytest

from mnist_desktop.data.augment import augment_batch, make_augmenter, pull_matrices
from mnist_desktop.data.datasets import load_dataset
from mnist_desktop.data.style_testset import TEST_STYLES, draw_style, style_drawings, style_test_set
from mnist_desktop.data.styles import (STYLES, center_of_mass, flag_ones, render_segments, render_templates,
                                       slash_zeros, stylize)
from mnist_desktop.drawing import drawing_from_json, drawing_to_json

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def mnist():
    d = load_dataset(data_dir=DATA)
    return d.x_train.reshape(-1, 28, 28), d.y_train


def of_digit(mnist, digit, n=20):
    x, y = mnist
    idx = np.flatnonzero(y == digit)[:n]
    return x[idx], y[idx]


def box(img, level=0.3):
    rows, cols = np.flatnonzero((img > level).any(1)), np.flatnonzero((img > level).any(0))
    return rows[0], rows[-1], cols[0], cols[-1]


# ---- rendering ------------------------------------------------------------------------------------------

def test_render_segments_draws_antialiased_lines_where_asked():
    seg = np.array([[[4.0, 10.0, 20.0, 10.0]]])       # a horizontal line on row 10, columns 4..20
    img = render_segments(seg, np.array([2.0]))[0]
    assert img[10, 4:21].min() == 1.0                   # full ink on the line
    assert 0 < img[9, 12] < 1 and img[9, 12] == img[11, 12]   # a soft, symmetric edge
    assert img[7, 12] == 0 and img[10, 23] == 0 and img[:, :2].max() == 0
    assert render_segments(seg, np.array([2.0]), valid=np.array([[False]])).max() == 0  # padding draws nothing


# ---- styles added to MNIST digits ----------------------------------------------------------------------------

def test_slash_goes_lower_left_to_upper_right_and_sticks_out(mnist):
    zeros, _ = of_digit(mnist, 0)
    segs, width = slash_zeros(zeros, np.random.default_rng(0))
    x0, y0, x1, y1 = segs[:, 0, 0], segs[:, 0, 1], segs[:, -1, 2], segs[:, -1, 3]
    assert np.all(x1 > x0) and np.all(y1 < y0)          # rises to the right (y points down)
    tops = np.array([box(z)[0] for z in zeros])
    assert np.mean(y1 < tops) > 0.3                     # usually above the oval
    assert np.all((width >= 1.4) & (width <= 4.0))


def test_flag_starts_low_on_the_left_and_ends_at_the_top(mnist):
    ones, _ = of_digit(mnist, 1)
    segs, _ = flag_ones(ones, np.random.default_rng(1))
    tops = np.array([box(o)[0] for o in ones])
    heights = np.array([box(o)[1] - box(o)[0] + 1 for o in ones])
    start, tip = segs[:, 0, :2], segs[:, 3, 2:]         # the flag is the first 4 segments
    assert np.allclose(tip[:, 1], tops + 0.5)
    assert np.all(start[:, 0] < tip[:, 0]) and np.all(start[:, 1] > tip[:, 1])
    drop = (start[:, 1] - tip[:, 1]) / heights
    assert drop.min() >= 0.1 and drop.max() <= 0.9 and drop.max() > 0.5   # long flags and short serifs


def test_stylize_keeps_mnist_look_and_leaves_other_digits_alone(mnist):
    x, y = mnist
    x, y = x[:300], y[:300]
    rates = {name: 1.0 for name in STYLES}
    out = stylize(x, y, np.random.default_rng(2), rates=rates)
    assert out.shape == x.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    styled = np.isin(y, list(STYLES.values()))
    np.testing.assert_array_equal(out[~styled], x[~styled])      # 3, 5, 6, 8 untouched
    assert all(not np.array_equal(out[i], x[i]) for i in np.flatnonzero(styled))
    cx, cy = center_of_mass(out[styled])
    assert np.abs(cx - 14).max() < 0.6 and np.abs(cy - 14).max() < 0.6   # centre of mass at (14, 14)
    sides = np.array([max(b[1] - b[0], b[3] - b[2]) + 1 for b in map(box, out[styled])])
    assert sides.max() <= 22 and np.median(sides) >= 18                 # about MNIST's 20 x 20 box
    zeros = y == 0
    # the labels decide: the same images called sevens get a bar, not a slash
    assert not np.array_equal(stylize(x[zeros], np.full(zeros.sum(), 7), np.random.default_rng(2), rates=rates),
                              out[zeros])


def test_stylize_rates_seed_and_errors(mnist):
    x, y = mnist
    a = stylize(x[:500], y[:500], np.random.default_rng(3))
    np.testing.assert_array_equal(a, stylize(x[:500], y[:500], np.random.default_rng(3)))
    changed = np.array([not np.array_equal(a[i], x[i]) for i in range(500)])
    ones = y[:500] == 1
    assert 0.2 < changed[ones].mean() < 0.6             # RATES["flagged-one"] = 0.4
    assert not changed[y[:500] == 8].any()
    np.testing.assert_array_equal(stylize(x[:50], y[:50], np.random.default_rng(0), styles=()), x[:50])
    with pytest.raises(ValueError, match="unknown style 'gothic-five'"):
        stylize(x[:5], y[:5], np.random.default_rng(0), styles=("gothic-five",))
    with pytest.raises(ValueError, match="labels"):
        stylize(x[:5], y[:4], np.random.default_rng(0))
    with pytest.raises(ValueError, match="needs the images' labels"):
        augment_batch(x[:5].reshape(5, 784), np.random.default_rng(0), ["styles"])


def test_templates_fit_the_mnist_box():
    names = ["open-four", "straight-nine", "looped-two"] * 4
    out = render_templates(names, np.random.default_rng(4))
    assert out.shape == (12, 28, 28)
    cx, cy = center_of_mass(out)
    assert np.abs(cx - 14).max() <= 0.5 and np.abs(cy - 14).max() <= 0.5
    sides = np.array([max(b[1] - b[0], b[3] - b[2]) + 1 for b in map(box, out)])
    assert sides.min() >= 18 and sides.max() <= 21


def test_swinging_template_nines_leave_the_loop_from_below_and_swing_right(monkeypatch):
    """The nines the drawn digits showed (read as 3 or 8): the stem leaves the loop's underside or lower
    left, not its right side, and bulges out to the right of where it left before it runs down."""
    from mnist_desktop.data import styles

    rng = np.random.default_rng(0)
    monkeypatch.setattr(styles, "SWING_RATE", 1.0)
    for _ in range(50):
        (path,) = styles._straight_nine(rng)
        loop, stem = path[:16], path[16:]                        # a 16-point arc, then the stem
        centre = (loop.min(axis=0) + loop.max(axis=0)) / 2
        assert loop[-1, 1] > centre[1]                           # it leaves from the loop's lower half
        assert loop[-1, 0] < loop[:, 0].max() - 0.05             # ... not from its right side
        assert stem[:, 0].max() > loop[-1, 0]                    # swings out right
        assert stem[-1, 1] == pytest.approx(1.0) and stem[-1, 1] == path[:, 1].max()
    monkeypatch.setattr(styles, "SWING_RATE", 0.0)
    for _ in range(50):
        (path,) = styles._straight_nine(rng)
        stem_top = path[14]                                      # a 14-point arc, then the stem
        assert stem_top[0] >= path[:14, 0].max() - 0.07          # from the loop's right side


def test_styles_inside_an_augmenter(mnist):
    x, y = mnist
    aug = make_augmenter(["styles", "rotate"])
    assert aug.uses_labels
    out = aug(x[:64].reshape(64, 784), np.random.default_rng(0), y[:64])
    assert out.shape == (64, 784) and out.dtype == np.float32


# ---- shear and elastic ---------------------------------------------------------------------------------------

def test_shear_slants_a_vertical_bar():
    img = np.zeros((1, 28, 28), np.float32)
    img[0, 4:24, 13:15] = 1.0
    from mnist_desktop.data.augment import affine_transform

    slanted = affine_transform(img, pull_matrices(shear=0.5))[0]
    top, bottom = slanted[6].argmax(), slanted[21].argmax()
    assert top < 13 and bottom > 14                     # x += 0.5 y: the top moves left, the bottom right
    assert abs(slanted.sum() - img.sum()) < 0.05 * img.sum()
    np.testing.assert_array_equal(affine_transform(img, pull_matrices(shear=0.0)), img)


def test_elastic_moves_ink_a_little(mnist):
    x, _ = mnist
    flat = x[:64].reshape(64, 784)
    out = augment_batch(flat, np.random.default_rng(5), ["elastic"], elastic_px=1.0)
    assert not np.array_equal(out, flat)
    ratio = out.sum(axis=1) / flat.sum(axis=1)
    assert np.all((ratio > 0.85) & (ratio < 1.15))
    moved = np.abs(np.array(center_of_mass(out.reshape(-1, 28, 28))) - np.array(center_of_mass(x[:64])))
    assert moved.max() < 1.0
    with pytest.raises(ValueError, match="elastic_px"):
        make_augmenter(["elastic"], elastic_px=9)
    with pytest.raises(ValueError, match="max_shear"):
        make_augmenter(["shear"], max_shear=-0.1)


# ---- the style test set ----------------------------------------------------------------------------------

def test_style_test_set_is_deterministic_valid_and_varied():
    items = style_test_set(per_style=6, seed=1)
    assert len(items) == 6 * len(TEST_STYLES)
    assert {name for name, _, _ in items} == set(TEST_STYLES)
    assert all(TEST_STYLES[name] == digit for name, digit, _ in items)
    again = style_test_set(per_style=6, seed=1)
    assert [drawing_to_json(d) for *_, d in items] == [drawing_to_json(d) for *_, d in again]
    assert drawing_to_json(items[0][2]) != drawing_to_json(style_test_set(per_style=6, seed=2)[0][2])
    heights = []
    for _, _, d in items:
        assert (d.width, d.height) == (280, 280) and 15 <= d.pen_width <= 21
        pts = np.concatenate([np.array(s) for s in d.strokes])
        assert pts.min() >= 0 and pts.max() <= 280      # on the canvas
        assert all(len(s) >= 2 for s in d.strokes)
        heights.append(np.ptp(pts[:, 1]))
        drawing_from_json(drawing_to_json(d))          # a valid drawing file
    assert min(heights) < 140 and max(heights) > 180    # varied size


def test_style_strokes_are_drawn_as_people_draw_them():
    for d in style_drawings("slashed-zero", 10, seed=0):
        assert len(d.strokes) == 2                      # the oval, then the slash
        (x0, y0), (x1, y1) = d.strokes[1][0], d.strokes[1][-1]
        assert x1 > x0 and y1 < y0                      # from lower left to upper right
    for d in style_drawings("flagged-one", 10, seed=0):
        flag_start, top = np.array(d.strokes[0][0]), np.array(d.strokes[0]).min(axis=0)
        assert flag_start[1] > top[1] + 20              # the lead-in starts well below the top
    assert all(len(d.strokes) == 2 for d in style_drawings("serif-one", 5))  # stem and foot
    with pytest.raises(ValueError, match="unknown style"):
        style_drawings("gothic-five", 1)
    assert draw_style("bare-one", np.random.default_rng(0)).strokes


def test_style_accuracy_end_to_end(qapp):
    """The benchmark's path on a few drawings: render (Qt) -> to_mnist -> the shipped CNN."""
    from mnist_desktop.app.imageio import render_drawing
    from mnist_desktop.engine.serialize import load
    from mnist_desktop.preprocess import to_mnist
    from mnist_desktop.shipped import MODELS_DIR

    items = style_test_set(per_style=2, seed=0, styles=["crossed-seven", "open-four"])
    x = np.stack([to_mnist(render_drawing(d)).image.reshape(784) for *_, d in items])
    net, _ = load(MODELS_DIR / "cnn.npz")
    assert (net.predict(x) == np.array([digit for _, digit, _ in items])).mean() >= 0.75


# ---- fine-tuning from a model file ---------------------------------------------------------------------------

def test_train_init_from_fine_tunes_a_model(tmp_path, capsys, monkeypatch):
    from mnist_desktop.cli import main
    from mnist_desktop.engine import load

    monkeypatch.delenv("MNIST_DIR", raising=False)
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["train", "--layers", "784-32-10", "--epochs", "3", "--data", str(DATA), "--out", str(first)]) == 0
    _, spec_a = load(first)
    capsys.readouterr()
    assert main(["train", "--layers", "784-32-10", "--epochs", "1", "--lr", "1e-4", "--augment", "styles,shear,elastic",
                 "--init-from", str(first), "--data", str(DATA), "--out", str(second)]) == 0
    assert "init_from=" in capsys.readouterr().out
    _, spec_b = load(second)
    assert spec_b["training"]["init_from"] == str(first)
    assert spec_b["training"]["augment"] == ["styles", "shear", "elastic"]
    # one gentle epoch from trained weights stays near them; from scratch one epoch is far below
    assert spec_b["test_accuracy"] > spec_a["test_accuracy"] - 0.03
    # another architecture, a missing file: one clear line, nothing written
    bad = tmp_path / "c.npz"
    assert main(["train", "--layers", "784-16-10", "--init-from", str(first), "--data", str(DATA),
                 "--out", str(bad)]) == 2
    assert "is not the one to train" in capsys.readouterr().err and not bad.exists()
    assert main(["train", "--layers", "784-32-10", "--init-from", str(tmp_path / "none.npz"), "--data", str(DATA),
                 "--out", str(bad)]) == 2
    assert "none.npz" in capsys.readouterr().err and not bad.exists()
