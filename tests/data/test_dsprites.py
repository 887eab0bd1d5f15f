"""Properties of the procedural dSprites: binary images, and each factor acting as documented."""

import numpy as np
import pytest

from kgen.data import DSprites

SQUARE, ELLIPSE, HEART = 0, 1, 2


@pytest.fixture(scope="module")
def dsprites():
    return DSprites()


def _rows(**fixed):
    """Factor rows that vary one factor over its grid and fix the others (middle by default)."""
    (varied,) = [name for name, value in fixed.items() if value is None]
    defaults = {"shape": SQUARE, "scale": 5, "orientation": 0, "x": 16, "y": 16}
    defaults.update(fixed)
    size = dict(zip(DSprites.factor_names, DSprites.factor_sizes))[varied]
    return np.array(
        [
            [index if name == varied else defaults[name] for name in DSprites.factor_names]
            for index in range(size)
        ]
    )


def _centre_of_mass(images):
    mass = images[..., 0]
    rows, cols = np.indices(mass.shape[1:])
    total = mass.sum(axis=(1, 2))
    return (mass * rows).sum(axis=(1, 2)) / total, (mass * cols).sum(axis=(1, 2)) / total


def test_grid_and_size(dsprites):
    assert dsprites.factor_names == ("shape", "scale", "orientation", "x", "y")
    assert dsprites.factor_sizes == (3, 6, 40, 32, 32)
    assert dsprites.num_examples == 737_280
    assert repr(dsprites) == "DSprites(resolution=64)"
    values = dsprites.factor_values([[2, 5, 39, 31, 0]])
    np.testing.assert_allclose(values, [[2, 1.0, 2 * np.pi, 1.0, 0.0]])


def test_render_is_binary_and_inside_frame(dsprites):
    images, factors = dsprites.sample(200, seed=0)
    assert images.shape == (200, 64, 64, 1) and images.dtype == np.float32
    assert set(np.unique(images)) == {0.0, 1.0}
    assert np.all(images.sum(axis=(1, 2, 3)) > 20)  # every sprite is visible
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]])
    assert border.sum() == 0  # no position, scale or rotation leaves the frame
    np.testing.assert_array_equal(images, dsprites.render(factors))


@pytest.mark.parametrize("shape", [SQUARE, ELLIPSE, HEART])
def test_scale_grows_area(dsprites, shape):
    area = dsprites.render(_rows(shape=shape, scale=None, orientation=7)).sum(axis=(1, 2, 3))
    assert np.all(np.diff(area) > 0), area


def test_x_moves_right_and_y_moves_down(dsprites):
    rows_x, cols_x = _centre_of_mass(dsprites.render(_rows(shape=HEART, x=None)))
    rows_y, cols_y = _centre_of_mass(dsprites.render(_rows(shape=HEART, y=None)))
    assert np.all(np.diff(cols_x) > 0) and np.ptp(rows_x) < 0.5  # pixelation only
    assert np.all(np.diff(rows_y) > 0) and np.ptp(cols_y) < 0.5
    assert cols_x[-1] - cols_x[0] > 0.5 * 64  # positions sweep most of the frame


@pytest.mark.parametrize("shape", [SQUARE, ELLIPSE, HEART])
def test_orientation_turns_and_full_turn_returns(dsprites, shape):
    images = dsprites.render(_rows(shape=shape, scale=3, orientation=None))
    np.testing.assert_array_equal(images[0], images[-1])  # 0 and 2 pi
    assert not np.array_equal(images[0], images[5])  # 2 pi * 5/39: about 46 degrees


def test_shapes_differ_and_symmetry(dsprites):
    images = dsprites.render(_rows(shape=None, orientation=4))
    assert not np.array_equal(images[SQUARE], images[ELLIPSE])
    assert not np.array_equal(images[ELLIPSE], images[HEART])
    assert not np.array_equal(images[SQUARE], images[HEART])
    # Centred sprites (x = y = 0.5 is between grid points, so use continuous values): a half
    # turn of the picture maps square and ellipse onto themselves but not the heart.
    values = [[shape, 1.0, 0.3, 0.5, 0.5] for shape in (SQUARE, ELLIPSE, HEART)]
    centred = dsprites.render_values(values)[..., 0]
    half_turned = np.rot90(centred, 2, axes=(1, 2))
    np.testing.assert_array_equal(centred[SQUARE], half_turned[SQUARE])
    np.testing.assert_array_equal(centred[ELLIPSE], half_turned[ELLIPSE])
    assert np.abs(centred[HEART] - half_turned[HEART]).sum() > 20


def test_ellipse_aspect_ratio_two(dsprites):
    ellipse = dsprites.render_values([[ELLIPSE, 1.0, 0.0, 0.5, 0.5]])[0, ..., 0]
    width, height = ellipse.any(axis=0).sum(), ellipse.any(axis=1).sum()
    assert 1.8 < width / height < 2.2


def test_resolution_scales_drawing():
    small, _ = DSprites(resolution=32).sample(50, seed=2)
    large = DSprites(resolution=64).render(DSprites().sample_factors(50, 2))
    assert small.shape == (50, 32, 32, 1)
    ratio = large.sum(axis=(1, 2, 3)) / small.sum(axis=(1, 2, 3))
    assert np.all((ratio > 3.0) & (ratio < 5.5))  # 4x the pixels, up to pixelation


def test_sample_factors_range_and_seed(dsprites):
    factors = dsprites.sample_factors(5000, 0)
    assert factors.shape == (5000, 5) and np.issubdtype(factors.dtype, np.integer)
    np.testing.assert_array_equal(factors.min(axis=0), 0)
    np.testing.assert_array_equal(factors.max(axis=0), np.array(dsprites.factor_sizes) - 1)
    np.testing.assert_array_equal(factors, dsprites.sample_factors(5000, np.random.default_rng(0)))
    assert not np.array_equal(factors, dsprites.sample_factors(5000, 1))


@pytest.mark.parametrize(
    ("factors", "error", "match"),
    [
        (np.zeros((4, 4), int), ValueError, r"`factors` must have shape \(n, 5\)"),
        (np.zeros(5, int), ValueError, r"`factors` must have shape \(n, 5\)"),
        ([[0, 6, 0, 0, 0]], ValueError, r"\(scale\) must be in \[0, 5\], got 6"),
        ([[0, 0, 0, 0, -1]], ValueError, r"\(y\) must be in \[0, 31\], got -1"),
        ([[0.0, 0, 0, 0, 0]], TypeError, "integer"),
    ],
)
def test_bad_factors_raise(dsprites, factors, error, match):
    with pytest.raises(error, match=match):
        dsprites.render(factors)


def test_bad_values_and_resolution_raise(dsprites):
    with pytest.raises(ValueError, match="shape"):
        dsprites.render_values([[3.0, 1.0, 0.0, 0.5, 0.5]])
    with pytest.raises(ValueError, match="x, y"):
        dsprites.render_values([[0.0, 1.0, 0.0, 1.5, 0.5]])
    with pytest.raises(ValueError, match="`resolution`"):
        DSprites(resolution=4)


@pytest.mark.parametrize("with_factors", [False, True])
def test_as_dataset(dsprites, with_factors):
    dataset = dsprites.as_dataset(10, batch_size=4, seed=5, with_factors=with_factors)
    batches = list(dataset.as_numpy_iterator())
    images = np.concatenate([b[0] if with_factors else b for b in batches])
    assert [len(b[0] if with_factors else b) for b in batches] == [4, 4, 2]
    expected_images, expected_factors = dsprites.sample(10, seed=5)
    np.testing.assert_array_equal(images, expected_images)
    if with_factors:
        np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), expected_factors)


# ---------------------------------------------------------------------- fixing some factors
MOVING = {"shape": "heart", "orientation": 7}  # scale, x and y vary


@pytest.fixture(scope="module")
def moving():
    return DSprites(resolution=32, fixed=MOVING)


def test_fixed_factors_leave_only_the_varying_ones(moving):
    assert moving.factor_names == ("scale", "x", "y")
    assert moving.factor_sizes == (6, 32, 32)
    assert moving.num_examples == 6 * 32 * 32
    assert moving.fixed == {"shape": HEART, "orientation": 7}
    assert repr(moving) == "DSprites(resolution=32, fixed={'shape': 2, 'orientation': 7})"
    # The class keeps the full grid, and so does an unrestricted instance.
    assert DSprites.factor_sizes == (3, 6, 40, 32, 32)
    assert DSprites(resolution=32).factor_names == DSprites.factor_names


def test_restricted_images_are_the_full_sets_at_the_full_rows(moving):
    factors = moving.sample_factors(300, 3)
    assert factors.shape == (300, 3)
    full = moving.full_factors(factors)
    assert full.shape == (300, 5)
    np.testing.assert_array_equal(full[:, [1, 3, 4]], factors)
    np.testing.assert_array_equal(full[:, 0], HEART)  # fixed factors never vary
    np.testing.assert_array_equal(full[:, 2], 7)
    images = moving.render(factors)
    np.testing.assert_array_equal(images, DSprites(resolution=32).render(full))
    np.testing.assert_array_equal(moving.factor_values(factors), DSprites().factor_values(full))
    assert len(np.unique(images.reshape(300, -1), axis=0)) > 250  # and the others do vary
    # sample and as_dataset go through the same restricted factors.
    sampled, sampled_factors = moving.sample(20, seed=4)
    assert sampled_factors.shape == (20, 3)
    np.testing.assert_array_equal(sampled, moving.render(sampled_factors))
    batches = list(
        moving.as_dataset(20, batch_size=8, seed=4, with_factors=True).as_numpy_iterator()
    )
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), sampled)


def test_sample_factors_of_restricted_set_cover_its_grid(moving):
    factors = moving.sample_factors(5000, 0)
    np.testing.assert_array_equal(factors.min(axis=0), 0)
    np.testing.assert_array_equal(factors.max(axis=0), np.array(moving.factor_sizes) - 1)


def test_metrics_give_a_perfect_code_of_the_restricted_set_a_top_score(moving):
    from kgen.metrics import beta_vae_score, dci, factor_vae_score, mig

    # "Images" that are the factor indices themselves: a perfect code of the varying factors.
    class Indices:
        factor_sizes = moving.factor_sizes
        sample_factors = staticmethod(moving.sample_factors)

        @staticmethod
        def render(factors):
            moving.render(factors[:1])  # the restricted set accepts exactly these rows
            return np.asarray(factors, dtype=np.float64)

    def perfect(codes):
        return codes

    dataset = Indices()
    assert beta_vae_score(perfect, dataset, batch_size=16, num_train=200, num_eval=100) == 1.0
    assert (
        factor_vae_score(
            perfect, dataset, batch_size=16, num_train=200, num_eval=100, num_variance_estimate=500
        )
        == 1.0
    )
    factors = moving.sample_factors(3000, 1)
    # MIG with 20 bins: scale (6 values) is recovered exactly, x and y (32 values) almost.
    assert mig(factors.astype(float), factors) > 0.75
    assert dci(factors.astype(float), factors, n_estimators=10)["disentanglement"] > 0.95
    # A code that mixes x and y scores lower: the metrics can tell.
    mixed = factors.astype(float)
    mixed[:, 1], mixed[:, 2] = mixed[:, 1] + mixed[:, 2], mixed[:, 1] - mixed[:, 2]
    assert mig(mixed, factors) < mig(factors.astype(float), factors) - 0.2


def test_evaluate_on_the_restricted_set_scores_its_varying_factors():
    import keras

    from kgen.metrics import evaluate
    from kgen.models import BetaVAE

    data = DSprites(resolution=16, fixed={"shape": 0, "scale": 5, "orientation": 0})
    model = BetaVAE((16, 16, 1), latent_dim=3, seed=0)
    keras.utils.set_random_seed(0)
    scores = evaluate(
        model, data, metrics=("factor_vae", "mig"), num_train=60, num_eval=40, batch_size=8
    )
    assert set(scores) == {"factor_vae_score", "mig"}
    assert all(np.isfinite(value) and 0.0 <= value <= 1.0 for value in scores.values())


@pytest.mark.parametrize(
    ("fixed", "error", "match"),
    [
        ([("shape", 0)], TypeError, r"`fixed` must be a dict .* got list"),
        ({"colour": 0}, ValueError, r"`fixed` names unknown factors \['colour'\]"),
        ({"scale": 6}, ValueError, r"`fixed\['scale'\]` must be in \[0, 5\], got 6"),
        ({"x": -1}, ValueError, r"`fixed\['x'\]` must be in \[0, 31\], got -1"),
        ({"orientation": 0.5}, TypeError, r"`fixed\['orientation'\]` must be an int grid index"),
        ({"y": True}, TypeError, r"`fixed\['y'\]` must be an int grid index"),
        ({"shape": "circle"}, ValueError, r"`fixed\['shape'\]` must be a shape index or one of"),
        (
            dict(zip(DSprites.factor_names, (0, 0, 0, 0, 0))),
            ValueError,
            "at least one factor varying",
        ),
    ],
)
def test_bad_fixed_raise(fixed, error, match):
    with pytest.raises(error, match=match):
        DSprites(fixed=fixed)


def test_restricted_set_rejects_full_rows(moving):
    with pytest.raises(
        ValueError, match=r"`factors` must have shape \(n, 3\) with columns \('scale', 'x', 'y'\)"
    ):
        moving.render(np.zeros((2, 5), int))
    with pytest.raises(ValueError, match=r"\(scale\) must be in \[0, 5\], got 6"):
        moving.render([[6, 0, 0]])


def test_an_encoder_that_reads_the_images_scores_top_on_the_restricted_set(moving):
    from kgen.metrics import factor_vae_score, mig

    def read(images):  # sqrt(area) for scale, the centre of mass for x and y
        rows, cols = _centre_of_mass(images)
        return np.stack([np.sqrt(images.sum(axis=(1, 2, 3))), cols, rows], axis=1)

    assert (
        factor_vae_score(
            read, moving, batch_size=16, num_train=200, num_eval=100, num_variance_estimate=500
        )
        == 1.0
    )
    factors = moving.sample_factors(2000, 5)
    assert mig(read(moving.render(factors)), factors) > 0.7  # 0.81 measured
