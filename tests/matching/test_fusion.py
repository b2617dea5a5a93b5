"""Fusion of lexical and semantic scores, and the cross-validated weight choice."""

from __future__ import annotations

import numpy as np
import pytest

from matching.fusion import (
    DEFAULT_SEMANTIC_WEIGHT,
    choose_weight_cv,
    cv_select,
    fuse,
    zscore,
)


def test_zscore_standardises():
    z = zscore(np.array([1.0, 2.0, 3.0, 4.0]))
    assert z.mean() == pytest.approx(0.0)
    assert z.std() == pytest.approx(1.0)
    assert np.all(np.diff(z) > 0)


def test_zscore_ignores_nan():
    z = zscore(np.array([1.0, np.nan, 3.0]))
    assert np.isnan(z[1])
    np.testing.assert_allclose(z[[0, 2]], [-1.0, 1.0])


@pytest.mark.parametrize("values", [[5.0, 5.0, 5.0], [2.0], [np.nan, 7.0, np.nan]])
def test_zscore_constant_or_single_is_zero(values):
    z = zscore(np.array(values))
    finite = np.isfinite(np.array(values))
    assert np.all(z[finite] == 0.0)
    assert np.all(np.isnan(z[~finite]))


def test_fuse_arithmetic():
    lex = np.array([3.0, 1.0, 2.0, 0.0])
    sem = np.array([0.1, 0.9, 0.5, 0.3])
    w = 0.25
    out = fuse(lex, sem, w)
    expected = 0.75 * zscore(lex) + 0.25 * zscore(sem)
    np.testing.assert_allclose(out.scores, expected)
    assert not out.semantic_missing.any()


def test_fuse_weight_extremes_reproduce_single_signals():
    lex = np.array([3.0, 1.0, 2.0])
    sem = np.array([0.2, 0.9, 0.4])
    np.testing.assert_allclose(fuse(lex, sem, 0.0).scores, zscore(lex))
    np.testing.assert_allclose(fuse(lex, sem, 1.0).scores, zscore(sem))


def test_fuse_semantic_can_change_the_winner():
    lex = np.array([1.0, 0.9, 0.0, 0.0])
    sem = np.array([0.70, 0.95, 0.70, 0.70])
    assert np.argmax(fuse(lex, sem, 0.0).scores) == 0
    assert np.argmax(fuse(lex, sem, 0.5).scores) == 1


def test_fuse_nan_semantic_keeps_lexical_z_and_is_flagged():
    lex = np.array([4.0, 1.0, 2.0, 3.0])
    sem = np.array([0.8, np.nan, 0.2, 0.5])
    out = fuse(lex, sem, 0.4)
    z_lex = zscore(lex)
    z_sem = zscore(sem)  # over the three known experts
    assert out.semantic_missing.tolist() == [False, True, False, False]
    assert out.scores[1] == pytest.approx(z_lex[1])
    known = [0, 2, 3]
    np.testing.assert_allclose(out.scores[known], 0.6 * z_lex[known] + 0.4 * z_sem[known])
    assert np.all(np.isfinite(out.scores))


def test_fuse_without_semantic_flags_everyone():
    out = fuse(np.array([1.0, 2.0]), None, 0.5)
    np.testing.assert_allclose(out.scores, [-1.0, 1.0])
    assert out.semantic_missing.all()


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_fuse_rejects_weight_outside_unit_interval(weight):
    with pytest.raises(ValueError):
        fuse(np.ones(3), np.ones(3), weight)


def test_fuse_rejects_shape_mismatch():
    with pytest.raises(ValueError):
        fuse(np.ones(3), np.ones(4), 0.5)


def test_default_weight_is_a_valid_weight():
    assert 0.0 < DEFAULT_SEMANTIC_WEIGHT < 1.0


def test_cv_select_scores_each_fold_with_the_row_chosen_on_the_other_folds():
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(2)
    table = rng.uniform(size=(4, 60))
    fold_best, oof = cv_select(table, n_splits=5, random_state=0)
    splits = KFold(n_splits=5, shuffle=True, random_state=0).split(np.arange(60))
    for best, (train, test) in zip(fold_best, splits, strict=True):
        assert best == int(np.argmax(table[:, train].mean(axis=1)))
        np.testing.assert_array_equal(oof[test], table[best, test])


def test_choose_weight_cv_reports_cv_and_in_sample():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, size=100)
    weights = [0.0, 0.3, 0.6, 0.9]

    def per_query(w: float) -> np.ndarray:
        # A peak at 0.6 plus noise that does not depend on the weight.
        return base - (w - 0.6) ** 2

    choice = choose_weight_cv(per_query, weights, n_splits=5, random_state=0)
    assert choice.in_sample_weight == 0.6
    assert choice.weight == 0.6
    assert choice.fold_weights == (0.6,) * 5
    assert choice.cv_score == pytest.approx(per_query(0.6).mean())
    assert choice.in_sample_score >= choice.cv_score - 1e-12
    assert set(choice.mean_scores) == set(weights)
    assert choice.cv_per_query.shape == (100,)


def test_choose_weight_cv_is_reproducible_and_honest():
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(5, 40))
    weights = [0.0, 0.25, 0.5, 0.75, 1.0]
    lookup = dict(zip(weights, noise, strict=True))
    a = choose_weight_cv(lookup.__getitem__, weights, random_state=3)
    b = choose_weight_cv(lookup.__getitem__, weights, random_state=3)
    assert a.fold_weights == b.fold_weights
    # Pure noise: the in-sample best is optimistic relative to the CV estimate.
    assert a.in_sample_score > a.cv_score


def test_choose_weight_cv_needs_enough_queries():
    with pytest.raises(ValueError):
        choose_weight_cv(lambda w: np.ones(3), [0.0, 1.0], n_splits=5)
