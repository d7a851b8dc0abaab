"""preprocess: each step on small fixtures, then the whole chain's invariants."""


import numpy as np
import pytest

from mnist_desktop import preprocess as pp
from mnist_desktop.preprocess import (COM_TARGET, Preprocessed, center_of_mass, ink_box, ink_from_pixels,
                                      is_blank, resample_matrix, to_mnist)


# ---- fixtures ------------------------------------------------------------------------------------------


def shape_image(H, W, top, left, size, supersample=4):
    """A digit-like shape (a loop over a slanted stem, like a 9) drawn analytically into an (H, W) canvas,
    its unit square mapped to [top, top + size) x [left, left + size), anti-aliased by supersampling."""
    n = supersample
    ys = (np.arange(H * n) + 0.5) / n
    xs = (np.arange(W * n) + 0.5) / n
    v = (ys[:, None] - top) / size
    u = (xs[None, :] - left) / size
    loop = np.abs(np.hypot(u - 0.5, (v - 0.3) * 1.2) - 0.22) < 0.07
    stem = (np.abs(u - (0.72 - 0.25 * (v - 0.3))) < 0.07) & (v > 0.3) & (v < 1.0)
    ink = (loop | stem).astype(np.float32)
    return ink.reshape(H, n, W, n).mean(axis=(1, 3))


@pytest.fixture
def vertical_bar():
    g = np.zeros((280, 280), np.float32)
    g[40:220, 130:150] = 1.0
    return g


@pytest.fixture
def off_centre_blob():
    g = np.zeros((200, 300), np.float32)
    yy, xx = np.mgrid[:200, :300]
    g[(yy - 30) ** 2 + (xx - 260) ** 2 < 20 ** 2] = 1.0
    return g


@pytest.fixture
def tiny_dot():
    g = np.zeros((280, 280), np.float32)
    g[200:203, 17:20] = 1.0
    return g


@pytest.fixture
def wide_stroke():
    g = np.zeros((280, 280), np.float32)
    g[100:112, 5:275] = 1.0
    return g


def check_result(p: Preprocessed, gray):
    assert p is not None
    assert p.image.shape == (28, 28) and p.image.dtype == np.float32
    assert 0.0 <= p.image.min() and p.image.max() <= 1.0
    assert p.image.max() == pytest.approx(1.0)          # peak ink 1, like MNIST
    assert p.fitted.dtype == np.float32 and max(p.fitted.shape) == 20
    assert p.gray.shape == np.asarray(gray).shape
    top, left, bottom, right = p.box
    assert 0 <= top < bottom <= gray.shape[0] and 0 <= left < right <= gray.shape[1]
    # the fitted box lies inside the frame at the reported offset
    assert 0 <= p.offset[0] <= 28 - p.fitted.shape[0] and 0 <= p.offset[1] <= 28 - p.fitted.shape[1]


# ---- the whole chain on fixtures ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vertical_bar", "off_centre_blob", "tiny_dot", "wide_stroke"])
def test_fixtures_give_valid_mnist_images_centred_on_the_target(name, request):
    gray = request.getfixturevalue(name)
    p = to_mnist(gray)
    check_result(p, gray)
    r, c = center_of_mass(p.image)
    assert abs(r - COM_TARGET) < 0.1 and abs(c - COM_TARGET) < 0.1


def test_vertical_bar_keeps_its_aspect_ratio(vertical_bar):
    p = to_mnist(vertical_bar)
    assert p.box == (40, 130, 220, 150)
    assert p.fitted.shape == (20, 3)                       # 180 x 20 -> 20 x 2.22, held in 3 columns
    assert p.fitted.sum() == pytest.approx(20 * 20 / 9, rel=1e-4)  # area scales by (20/180)^2 (before peak 1)
    cols = p.image.sum(axis=0)
    assert (cols > 0).sum() == 3                           # a thin bar stays thin


def test_wide_stroke_is_fitted_by_its_width(wide_stroke):
    p = to_mnist(wide_stroke)
    assert p.fitted.shape[1] == 20 and p.fitted.shape[0] == 1  # 270 x 12 -> 20 x 0.9
    rows = np.flatnonzero(p.image.sum(axis=1) > 0)
    assert len(rows) <= 2


def test_tiny_dot_is_enlarged_to_the_box(tiny_dot):
    p = to_mnist(tiny_dot)
    assert p.box == (200, 17, 203, 20)
    assert p.fitted.shape == (20, 20)
    assert p.fitted.min() > 0.99                           # linear interpolation of a constant stays constant


def test_off_centre_blob_lands_in_the_middle(off_centre_blob):
    p = to_mnist(off_centre_blob)
    assert p.box == (11, 241, 50, 280)
    assert p.fitted.shape == (20, 20) and p.offset == (4.5, 4.5)  # a disc's centre of mass is its centre
    assert p.image[:, :4].max() == 0 and p.image[:, -3:].max() == 0 and p.image[:4].max() == 0


@pytest.mark.parametrize("gray", [np.zeros((280, 280), np.float32), np.full((50, 60), 0.05, np.float32),
                                  np.full((10, 10), np.nan, np.float32), np.zeros((0, 5), np.float32)])
def test_empty_or_faint_canvas_is_blank(gray):
    assert is_blank(gray)
    assert ink_box(gray) is None
    assert to_mnist(gray) is None


def test_not_blank_with_one_clear_stroke():
    g = np.zeros((100, 100), np.float32)
    g[50, 50] = 0.5
    assert not is_blank(g)
    assert to_mnist(g) is not None


def test_nan_pixels_are_treated_as_no_ink(vertical_bar):
    g = vertical_bar.copy()
    g[0, 0] = np.nan
    np.testing.assert_allclose(to_mnist(g).image, to_mnist(vertical_bar).image)


def test_rejects_colour_input():
    with pytest.raises(ValueError, match="2-D"):
        to_mnist(np.zeros((10, 10, 3)))


# ---- invariance: the point of the whole thing ------------------------------------------------------------------


def test_the_same_digit_anywhere_and_any_size_gives_nearly_the_same_image():
    ref = to_mnist(shape_image(400, 300, 30, 40, 260)).image
    for H, W, top, left, size in [(280, 280, 10, 150, 120), (280, 280, 100, 20, 170), (300, 500, 7, 333, 97)]:
        img = to_mnist(shape_image(H, W, top, left, size)).image
        assert np.abs(img - ref).mean() < 0.005, (H, W, top, left, size)
        assert np.abs(img - ref).max() < 0.1, (H, W, top, left, size)
    small = to_mnist(shape_image(60, 90, 5, 50, 36)).image  # enlarged, not shrunk: coarser, still close
    assert np.abs(small - ref).mean() < 0.01 and np.abs(small - ref).max() < 0.2


def test_translation_by_whole_pixels_changes_nothing():
    a = shape_image(280, 280, 20, 30, 150)
    b = np.zeros_like(a)
    b[37:, 61:] = a[:-37, :-61]
    np.testing.assert_allclose(to_mnist(a).image, to_mnist(b).image, atol=1e-6)


@pytest.mark.parametrize("centering", ["subpixel", "integer"])
def test_centre_of_mass_convention(centering):
    """MNIST's centre of mass is at 14.0 on average, spread over [13.5, 14.5) by whole-pixel shifts."""
    for top, left, size in [(3, 7, 150), (40, 11, 201), (17, 90, 99)]:
        p = to_mnist(shape_image(280, 280, top, left, size), centering=centering)
        r, c = center_of_mass(p.image)
        if centering == "integer":
            assert 13.5 - 1e-6 <= r < 14.5 and 13.5 - 1e-6 <= c < 14.5
            assert p.offset == (round(p.offset[0]), round(p.offset[1]))
            # whole-pixel placement: the image is exactly the fitted patch pasted in
            i, j = int(p.offset[0]), int(p.offset[1])
            h, w = p.fitted.shape
            np.testing.assert_allclose(p.image[i:i + h, j:j + w], p.fitted, atol=1e-6)
            assert p.image.sum() == pytest.approx(p.fitted.sum(), rel=1e-5)
        else:
            assert abs(r - 14.0) < 0.05 and abs(c - 14.0) < 0.05


def test_lopsided_shape_is_clamped_into_the_frame_not_wrapped():
    """A heavy top bar pulls the centre of mass far up; shifting it to 14 would push the stem out of the
    frame. The shift is clamped (zero fill, nothing wraps round as np.roll would) and no ink is lost."""
    g = np.zeros((200, 200), np.float32)
    g[10:40, 20:180] = 1.0     # thick bar
    g[40:170, 98:102] = 1.0    # thin stem hanging from it
    p = to_mnist(g, normalize=False)
    assert p.offset[0] == 28 - p.fitted.shape[0]           # pushed as far down as the frame allows
    assert p.image.sum() == pytest.approx(p.fitted.sum(), rel=1e-5)
    top_rows = p.image[: int(np.floor(p.offset[0]))]
    assert top_rows.max() == 0                              # rows above the patch are zero, not wrapped ink


def test_invalid_centering_is_an_error(vertical_bar):
    with pytest.raises(ValueError, match="centering"):
        to_mnist(vertical_bar, centering="middle")


# ---- resampling -----------------------------------------------------------------------------------------


def test_box_weights_average_exactly_and_keep_mass():
    R = resample_matrix(180, 20 / 180, 20)
    np.testing.assert_allclose(R.sum(axis=1), 1.0)          # every output pixel is an average
    np.testing.assert_allclose(R.sum(axis=0), 20 / 180)     # every input pixel is counted once
    x = np.random.default_rng(0).random(180)
    np.testing.assert_allclose(R @ x, x.reshape(20, 9).mean(axis=1))


def test_box_weights_with_fractional_offset_cover_partially():
    R = resample_matrix(10, 0.35, 5, 0.3)                  # content covers [0.3, 3.8)
    np.testing.assert_allclose(R.sum(axis=1), [0.7, 1.0, 1.0, 0.8, 0.0])


def test_linear_weights_when_enlarging():
    R = resample_matrix(2, 4.0, 8)                          # 2 pixels -> 8
    np.testing.assert_allclose(R.sum(axis=1), 1.0)
    x = R @ np.array([0.0, 1.0])
    assert np.all(np.diff(x) >= 0) and x[0] == 0.0 and x[-1] == 1.0
    np.testing.assert_allclose(x, [0, 0, 0.125, 0.375, 0.625, 0.875, 1, 1])
    R = resample_matrix(2, 4.0, 12, offset=2.5)             # zero outside the content's image [2.5, 10.5)
    assert R[:2].sum() == 0 and R[11:].sum() == 0
    np.testing.assert_allclose(R.sum(axis=1)[[2, 10]], 0.5)  # half-covered edge pixels


# ---- pixels -> ink ------------------------------------------------------------------------------------------


def test_light_on_dark_uint8_is_taken_as_it_is():
    px = np.zeros((40, 40), np.uint8)
    px[10:30, 18:22] = 255
    ink, inverted = ink_from_pixels(px)
    assert not inverted and ink.dtype == np.float32
    np.testing.assert_array_equal(ink, px / 255)


def test_dark_on_light_rgb_is_inverted():
    px = np.full((40, 40, 3), 255, np.uint8)
    px[10:30, 18:22] = (0, 0, 40)
    ink, inverted = ink_from_pixels(px)
    assert inverted
    assert ink[20, 20] > 0.95 and ink[0, 0] == 0.0 and ink[20, 5] == 0.0


def test_grey_paper_background_maps_to_zero():
    px = np.full((60, 60), 0.62, np.float32)
    px[10:50, 28:33] = 0.1
    px[0, :] = 0.1   # a dark frame line along one edge does not fool the background estimate
    ink, inverted = ink_from_pixels(px)
    assert inverted
    assert ink[30, 5] == 0.0 and ink[30, 30] == pytest.approx((0.62 - 0.1) / 0.62, abs=1e-6)


@pytest.mark.parametrize("stroke_rgb", [(0, 0, 0), (255, 255, 255), (30, 60, 200)])
def test_rgba_transparent_background_is_no_ink(stroke_rgb):
    """Transparent pixels are background whatever their stored colour; opaque strokes are ink."""
    px = np.zeros((50, 50, 4), np.uint8)
    px[..., :3] = 255 - np.array(stroke_rgb, np.uint8)     # colour under transparency: the opposite
    px[10:40, 20:26, :3] = stroke_rgb
    px[10:40, 20:26, 3] = 255
    px[10:40, 26, :3] = stroke_rgb
    px[10:40, 26, 3] = 128                                  # a half-transparent anti-aliased edge
    ink, _ = ink_from_pixels(px)
    assert ink[:, :19].max() == 0 and ink[:, 28:].max() == 0 and ink[:9].max() == 0
    assert ink[20, 22] == ink.max() > 0.7                  # full ink (a coloured stroke is less than 1)
    assert ink[20, 26] / ink[20, 22] == pytest.approx(0.5, abs=0.02)
    p = to_mnist(ink)
    assert p.box == (10, 20, 40, 27)


def test_transparent_corners_show_the_pictures_own_background():
    """A screenshot of white paper with rounded transparent corners: the corners are paper, not ink."""
    px = np.full((80, 60, 4), 255, np.uint8)
    px[20:60, 28:32, :3] = 0                                 # a black 1 on white paper
    yy, xx = np.mgrid[:80, :60]
    for cy, cx in [(8, 8), (8, 51), (71, 8), (71, 51)]:       # round off the corners, radius 8
        corner = ((yy < 8) | (yy > 71)) & ((xx < 8) | (xx > 51)) & ((yy - cy) ** 2 + (xx - cx) ** 2 > 64)
        px[corner] = (0, 0, 0, 0)
    ink, inverted = ink_from_pixels(px)
    assert inverted
    assert ink[:3, :3].max() == 0 and ink[-3:, -3:].max() == 0
    assert to_mnist(ink).box == (20, 28, 60, 32)


def test_jpeg_like_noise_does_not_inflate_the_box():
    rng = np.random.default_rng(0)
    px = np.full((120, 120), 235.0)
    px[30:90, 50:60] = 20.0
    noisy = np.clip(px + rng.normal(0, 6, px.shape), 0, 255).astype(np.uint8)
    # ringing next to the edges, as JPEG blocks leave it
    noisy[28:30, 48:62] -= 25
    noisy[90:92, 48:62] -= 25
    clean = to_mnist(ink_from_pixels(px.astype(np.uint8))[0])
    ink, inverted = ink_from_pixels(noisy)
    p = to_mnist(ink, inverted=inverted)
    assert inverted and p.inverted
    assert p.box == clean.box == (30, 50, 90, 60)
    assert np.abs(p.image - clean.image).max() < 0.1


def test_ink_from_pixels_accepts_floats_and_single_channel_and_rejects_nonsense():
    ink, inv = ink_from_pixels(np.zeros((5, 6, 1), np.float64))
    assert ink.shape == (5, 6) and not inv
    ink16, _ = ink_from_pixels(np.full((4, 4), 65535, np.uint16))
    assert ink16.dtype == np.float32
    with pytest.raises(ValueError):
        ink_from_pixels(np.zeros((5, 6, 2), np.uint8))
    with pytest.raises(ValueError):
        ink_from_pixels(np.zeros(5, np.uint8))
    with pytest.raises(ValueError):
        ink_from_pixels(np.array([["a"]]))


def test_module_constants_follow_mnist():
    assert pp.SIZE == 28 and pp.BOX == 20 and pp.COM_TARGET == 14.0


# ---- mapping a 28x28 map back onto the input --------------------------------------------------------


def _forward_point(pre, y, x):
    """Where input pixel (y, x)'s centre lands in the 28x28 image, in pixel-centre coordinates."""
    s, row0, col0 = pp.input_to_net_transform(pre)
    return row0 + s * (y + 0.5) - 0.5, col0 + s * (x + 0.5) - 0.5


@pytest.mark.parametrize("name", ["vertical_bar", "off_centre_blob", "wide_stroke", "tiny_dot"])
def test_the_transform_puts_the_inputs_centre_of_mass_where_to_mnist_put_it(name, request):
    gray = request.getfixturevalue(name)
    pre = to_mnist(gray)
    r, c = center_of_mass(gray)
    assert np.allclose(_forward_point(pre, r, c), center_of_mass(pre.image), atol=0.35)


@pytest.mark.parametrize("name", ["vertical_bar", "off_centre_blob", "tiny_dot"])
def test_a_single_bright_network_pixel_maps_back_to_where_it_came_from(name, request):
    """Drawn digits are shrunk (one input pixel < one 28x28 pixel: interpolated); the tiny dot is enlarged
    (one input pixel covers ~7x7 of them: averaged, so one bright pixel comes back dim but in place)."""
    gray = request.getfixturevalue(name)
    pre = to_mnist(gray)
    s = pp.input_to_net_transform(pre)[0]
    for r, c in [(14, 14), (8, 17), (20, 11), (13, 12)]:
        m = np.zeros((28, 28), np.float32)
        m[r, c] = 1.0
        back = pp.net_map_to_input(pre, m)
        assert back.shape == gray.shape and back.dtype == np.float32
        if back.max() == 0:                          # the enlarged dot's 28x28 frame covers few input pixels
            assert s > 1 and not (9 < r < 19 and 9 < c < 19)
            continue
        assert back.max() > (0.5 if s <= 1 else 0.5 / s ** 2)
        ys, xs = np.indices(back.shape)
        centre = (back * ys).sum() / back.sum(), (back * xs).sum() / back.sum()
        assert np.allclose(_forward_point(pre, *centre), (r, c), atol=max(0.5, s / 2))
        far = np.argwhere(back > 0)                  # nothing further than one 28x28 pixel (one input pixel)
        fr, fc = _forward_point(pre, far[:, 0], far[:, 1])
        reach = 1.01 if s <= 1 else 0.51 + s
        assert np.abs(fr - r).max() < reach and np.abs(fc - c).max() < reach


def test_the_network_input_mapped_back_lies_on_the_ink(vertical_bar):
    pre = to_mnist(vertical_bar)
    back = pp.net_map_to_input(pre, pre.image)
    on_ink = back[vertical_bar > 0.5]
    assert on_ink.mean() > 0.5
    assert back[:, :100].max() == 0 and back[:, 180:].max() == 0 and back[:20].max() == 0  # far from ink
    # the map off the frame is zero, and a coarser grid covers the same area
    small = pp.net_map_to_input(pre, pre.image, out_shape=(28, 28))
    assert small.shape == (28, 28)
    assert small[:, :9].max() == 0 and small[:, 19:].max() == 0 and small[14, 14] > 0.5


def test_net_map_to_input_rejects_wrong_shapes(vertical_bar):
    with pytest.raises(ValueError, match="28, 28"):
        pp.net_map_to_input(to_mnist(vertical_bar), np.zeros((10, 10)))
