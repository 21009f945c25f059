"""Projections: the sampling rule, PCA against numpy's eigen-decomposition, and the
neighbourhood methods on shapes whose 2-D picture is known."""
from __future__ import annotations

import numpy as np
import pytest
from hiddenscope.server.engine import ArraySource, EngineError
from hiddenscope.server.engine import projection as P


def _offsets(lengths):
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def test_sequence_end_takes_the_last_step_of_sequences_in_seeded_order():
    offsets = _offsets([3, 5, 2, 7, 1, 4])
    order = np.random.default_rng(7).permutation(6)
    expected = [int(offsets[i + 1] - 1) for i in order[:4]]
    assert P.sample_steps(offsets, "sequence_end", 4, 7).tolist() == expected
    # more points asked than sequences: every sequence once
    assert sorted(P.sample_steps(offsets, "sequence_end", 99, 7).tolist()) == [2, 7, 9, 16, 17, 21]


def test_steps_are_a_seeded_sample_without_repeats_sorted():
    offsets = _offsets([400, 600])
    got = P.sample_steps(offsets, "steps", 50, 3)
    expected = np.sort(np.random.default_rng(3).choice(1000, size=50, replace=False))
    assert got.tolist() == expected.tolist()
    assert np.unique(got).size == 50
    assert P.sample_steps(offsets, "steps", 5000, 3).tolist() == list(range(1000))


def test_bad_sampling_arguments_name_the_value():
    with pytest.raises(EngineError, match="points: 'ends'"):
        P.sample_steps(_offsets([5]), "ends", 3, 0)
    with pytest.raises(EngineError, match="n: 0"):
        P.sample_steps(_offsets([5]), "steps", 0, 0)
    with pytest.raises(EngineError, match="method: 'lda'"):
        P.project(ArraySource(np.zeros((4, 2), np.float32)), "lda")


@pytest.mark.parametrize("shape", [(200, 12), (40, 90), (7, 3)])
def test_pca_matches_numpy_eigendecomposition_up_to_sign(shape):
    rng = np.random.default_rng(shape[0])
    X = rng.standard_normal(shape) @ np.diag(np.linspace(3, 0.2, shape[1])) + 5.0
    xy, explained, mean, axes = P.pca(X)
    centred = X - X.mean(0)
    evals, evecs = np.linalg.eigh(centred.T @ centred)  # ascending
    top = evecs[:, ::-1][:, :2]
    ref = centred @ top
    for i in range(2):
        sign = np.sign(ref[:, i] @ xy[:, i])
        np.testing.assert_allclose(xy[:, i], sign * ref[:, i], atol=1e-8)
    np.testing.assert_allclose(explained, evals[::-1][:2] / evals.sum(), rtol=1e-9)
    # the returned axes place any state on the same plot
    np.testing.assert_allclose((X - mean) @ axes.T, xy, atol=1e-8)
    # sign rule: each axis's largest loading is positive
    assert all(a[np.argmax(np.abs(a))] > 0 for a in axes)


def test_pca_of_degenerate_data_is_zero_not_nan():
    for X in (np.ones((5, 3)), np.zeros((1, 4)), np.arange(6.0).reshape(6, 1)):
        xy, explained, _, axes = P.pca(X)
        assert np.isfinite(xy).all() and np.isfinite(explained).all() and np.isfinite(axes).all()
    xy, explained, _, _ = P.pca(np.arange(6.0).reshape(6, 1))
    assert explained.tolist() == [1.0, 0.0] and np.all(xy[:, 1] == 0)


def test_project_reads_transformed_states_at_the_sampled_steps():
    rng = np.random.default_rng(1)
    states = rng.standard_normal((300, 10)).astype(np.float32) * 2
    offsets = _offsets([50] * 6)
    source = ArraySource(states, offsets, transform="tanh")
    proj = P.project(source, "pca", "sequence_end", 4, seed=2)
    steps = P.sample_steps(offsets, "sequence_end", 4, 2)
    assert proj.steps.tolist() == steps.tolist()
    assert proj.seq.tolist() == (steps // 50).tolist()
    xy, explained, _, _ = P.pca(np.tanh(states[steps].astype(np.float64)))
    np.testing.assert_allclose(np.abs(proj.xy), np.abs(xy), atol=1e-5)
    np.testing.assert_allclose(proj.explained, explained, rtol=1e-5)


def test_non_finite_values_count_as_zero_and_are_counted():
    states = np.arange(40, dtype=np.float32).reshape(10, 4)
    states[3, 1] = np.nan
    states[5, 2] = np.inf
    proj = P.project(ArraySource(states), "pca", "steps", 10, 0)
    assert proj.nonfinite == 2
    clean = states.astype(np.float64)
    clean[3, 1] = clean[5, 2] = 0
    np.testing.assert_allclose(np.abs(proj.xy), np.abs(P.pca(clean)[0]), atol=1e-9)


def test_isomap_unrolls_a_curve_in_order():
    t = np.linspace(0, 1.6 * np.pi, 120)
    X = np.column_stack([np.cos(t), np.sin(t), 0.1 * t])  # most of a circle: no axis unrolls it
    assert not np.all(np.diff(P.pca(X)[0][:, 0] * np.sign(P.pca(X)[0][-1, 0])) > 0)
    xy = P.embed(X, "isomap", 0)
    assert xy.shape == (120, 2) and np.isfinite(xy).all()
    first = xy[:, 0] * np.sign(np.corrcoef(xy[:, 0], t)[0, 1])
    assert np.all(np.diff(first) > 0)  # geodesic order kept: the curve is unrolled


def test_isomap_with_separate_groups_still_draws_every_point():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (30, 5)), rng.normal(100, 0.1, (30, 5))])
    xy = P.embed(X, "isomap", 0)
    assert xy.shape == (60, 2) and np.isfinite(xy).all()


def test_tsne_keeps_separate_clusters_apart_and_is_seeded():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 8)), rng.normal(12, 1, (40, 8))])
    xy = P.embed(X, "tsne", 5)
    a, b = xy[:40], xy[40:]
    within = max(np.ptp(a, 0).max(), np.ptp(b, 0).max())
    between = np.linalg.norm(a.mean(0) - b.mean(0))
    assert between > within
    np.testing.assert_array_equal(P.embed(X, "tsne", 5), xy)


def test_one_or_two_points_are_placed_without_a_neighbour_graph():
    assert P.embed(np.ones((2, 3)), "tsne", 0).tolist() == [[0.0, 0.0], [1.0, 0.0]]


def test_umap_without_the_extra_names_the_install_command():
    pytest.importorskip("sklearn")
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(P.MissingExtra, match=r"pip install 'hiddenscope\[umap\]'"):
            P.embed(np.random.default_rng(0).standard_normal((10, 3)), "umap", 0)
    else:
        pytest.skip("umap-learn is installed")


@pytest.mark.parametrize("method", ["pca", "isomap", "tsne"])
@pytest.mark.parametrize("shape", [(1, 3), (3, 1), (5, 1), (13, 2), (40, 7)])
@pytest.mark.parametrize("kind", ["random", "constant", "duplicates"])
def test_small_and_degenerate_inputs_give_finite_points(method, shape, kind):
    """One cell (no PCA start for t-SNE), one state sampled many times, repeated states."""
    X = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    if kind == "constant":
        X[:] = 0.5
    if kind == "duplicates":
        X[: shape[0] // 2 + 1] = X[0]
    proj = P.project(ArraySource(X), method, "steps", 50, 0)
    assert proj.xy.shape == (shape[0], 2) and np.isfinite(proj.xy).all()
    if kind == "constant" and shape[0] >= 3:
        assert np.all(proj.xy == 0)
