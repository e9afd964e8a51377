"""grove.RandomForest: as accurate as scikit-learn's forest on real data, scikit-learn's
conventions (any labels, classes_, clone, pickling), importances, and clear errors."""
import pickle

import numpy as np
import pytest

import grove


@pytest.fixture(scope="module")
def em_split(isbi):
    """ilastik's features of an EM slice with membrane/cell ground truth, split into a small
    training set and a larger test set (disjoint pixels; the test set also from another slice)."""
    rng = np.random.default_rng(0)
    image = grove.read(isbi / "image" / "00.png", axes="yx")
    truth = grove.read(isbi / "label" / "00.png", axes="yx")
    X = grove.features(image).reshape(-1, 49)
    y = np.where(truth.ravel() == 0, 10, 20)  # membrane 10, cell 20: labels need not be 0..K-1
    order = rng.permutation(len(y))
    train, test = order[:4000], order[4000:24000]
    other = grove.read(isbi / "image" / "05.png", axes="yx")
    other_truth = grove.read(isbi / "label" / "05.png", axes="yx")
    X_other = grove.features(other).reshape(-1, 49)[::13]
    y_other = np.where(other_truth.ravel() == 0, 10, 20)[::13]
    return X[train], y[train], np.concatenate([X[test], X_other]), np.concatenate([y[test], y_other])


def test_accuracy_matches_scikit_learn(em_split):
    from sklearn.ensemble import RandomForestClassifier

    X_train, y_train, X_test, y_test = em_split
    ours = grove.RandomForest(n_trees=100, seed=0).fit(X_train, y_train)
    theirs = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2).fit(X_train, y_train)
    accuracy = ours.score(X_test, y_test)
    reference = theirs.score(X_test, y_test)
    print(f"accuracy on {len(y_test)} held-out pixels: grove {accuracy:.4f}, scikit-learn {reference:.4f}")
    assert accuracy > 0.8  # membranes vs cells from 4000 pixels: a real classifier, not chance
    assert accuracy >= reference - 0.015
    np.testing.assert_array_equal(ours.classes_, [10, 20])
    probabilities = ours.predict_proba(X_test)
    assert probabilities.shape == (len(y_test), 2) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # Gini importances: one per feature, summing to 1, ranked much like scikit-learn's.
    importance = ours.feature_importances_
    assert importance.shape == (49,)
    assert abs(importance.sum() - 1.0) < 1e-6
    correlation = np.corrcoef(importance, theirs.feature_importances_)[0, 1]
    print(f"correlation of Gini importances with scikit-learn's: {correlation:.3f}")
    assert correlation > 0.7


def test_out_of_bag_score_estimates_the_test_accuracy(em_split):
    X_train, y_train, X_test, y_test = em_split
    forest = grove.RandomForest(n_trees=50, oob_score=True).fit(X_train, y_train)
    same_slice = slice(0, 20000)  # the out-of-bag estimate is for data like the training data
    assert abs(forest.oob_score_ - forest.score(X_test[same_slice], y_test[same_slice])) < 0.02
    assert not hasattr(grove.RandomForest(n_trees=5).fit(X_train, y_train), "oob_score_")


def test_same_seed_same_forest_whatever_the_threads(em_split):
    X_train, y_train, X_test, _ = em_split
    one = grove.RandomForest(n_trees=20, seed=3, n_jobs=1).fit(X_train, y_train).predict_proba(X_test)
    many = grove.RandomForest(n_trees=20, seed=3, n_jobs=-1).fit(X_train, y_train).predict_proba(X_test)
    other = grove.RandomForest(n_trees=20, seed=4).fit(X_train, y_train).predict_proba(X_test)
    np.testing.assert_array_equal(one, many)
    assert not np.array_equal(one, other)


def separable(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, X[:, 3] > 0.2


@pytest.mark.parametrize(
    "labels",
    [
        np.array([-7, 1000]),
        np.array(["background", "nucleus"]),
        np.array([False, True]),
        np.array([2**40, 2**41]),
        np.array([0.5, 1.5]),
    ],
)
def test_any_labels(labels):
    X, which = separable()
    y = labels[which.astype(int)]
    forest = grove.RandomForest(n_trees=10).fit(X, y)
    np.testing.assert_array_equal(forest.classes_, np.sort(labels))
    assert forest.n_classes_ == 2 and forest.n_features_in_ == 5
    assert np.mean(forest.predict(X) == y) > 0.97
    assert forest.predict(X).dtype == forest.classes_.dtype


def test_three_classes_weights_and_options():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 4))
    y = np.digitize(X[:, 0], [-0.5, 0.5])  # 0, 1, 2
    forest = grove.RandomForest(n_trees=30, max_depth=3, min_samples_leaf=2, max_features=2).fit(X, y)
    assert forest.predict_proba(X).shape == (600, 3)
    assert 1 <= forest.depth_ <= 4
    stumps = grove.RandomForest(n_trees=5, max_depth=1).fit(X, y)
    assert stumps.depth_ <= 2
    # Weighting a class up makes the forest predict it more often where classes overlap.
    noisy = np.digitize(X[:, 0] + rng.normal(size=600), [-0.5, 0.5])
    plain = grove.RandomForest(n_trees=30, max_depth=2).fit(X, noisy)
    weighted = grove.RandomForest(n_trees=30, max_depth=2, class_weight={2: 5.0}).fit(X, noisy)
    assert np.sum(weighted.predict(X) == 2) > np.sum(plain.predict(X) == 2) + 30
    zero = np.where(y == 2, 0.0, 1.0)  # weight 0 leaves class 2 out entirely
    assert np.all(grove.RandomForest(n_trees=10).fit(X, y, sample_weight=zero).predict(X) != 2)
    balanced = grove.RandomForest(n_trees=10, class_weight="balanced", bootstrap=False, max_samples=None)
    assert balanced.fit(X, y).score(X, y) > 0.95
    for value in ("log2", None, 0.5, 3):
        assert grove.RandomForest(n_trees=5, max_features=value).fit(X, y).score(X, y) > 0.9


def test_scikit_learn_protocol_and_pickling():
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    X, y = separable()
    forest = grove.RandomForest(n_trees=15, seed=2, max_depth=6)
    copy = clone(forest)
    assert copy.get_params() == forest.get_params()
    assert "max_depth=6" in repr(forest)
    scores = cross_val_score(forest, X, y, cv=3)
    assert scores.mean() > 0.95
    forest.fit(X, y)
    restored = pickle.loads(pickle.dumps(forest))
    np.testing.assert_array_equal(restored.predict_proba(X), forest.predict_proba(X))
    np.testing.assert_array_equal(restored.feature_importances_, forest.feature_importances_)
    assert forest.set_params(n_trees=3) is forest and forest.n_trees == 3


def test_permutation_importance_finds_the_informative_feature():
    X, y = separable(800, seed=5)
    forest = grove.RandomForest(n_trees=20).fit(X[:400], y[:400])
    importance = grove.permutation_importance(forest, X[400:], y[400:], n_repeats=3, seed=1)
    assert importance.shape == (5,)
    assert np.argmax(importance) == 3
    assert importance[3] > 0.2 and np.all(np.abs(np.delete(importance, 3)) < 0.05)
    assert np.argmax(forest.feature_importances_) == 3


def test_bad_input_raises_clear_errors():
    X, y = separable(50)
    forest = grove.RandomForest(n_trees=3)
    with pytest.raises(AttributeError, match="not fitted"):
        forest.predict(X)
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        forest.fit(bad, y)
    bad[7, 2] = np.inf
    with pytest.raises(ValueError, match="finite"):
        forest.fit(bad, y)
    with pytest.raises(ValueError, match="2-dimensional"):
        forest.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="50 samples but y has 49"):
        forest.fit(X, y[:-1])
    with pytest.raises(TypeError, match="numbers"):
        forest.fit(X.astype(str), y)
    with pytest.raises(TypeError, match="numbers"):
        forest.fit(X.astype(complex), y)
    with pytest.raises(ValueError, match="NaN"):
        forest.fit(X, np.where(y, 1.0, np.nan))
    with pytest.raises(ValueError, match="n_trees must be at least 1"):
        grove.RandomForest(n_trees=0).fit(X, y)
    with pytest.raises(ValueError, match="max_features"):
        grove.RandomForest(max_features=99).fit(X, y)
    with pytest.raises(ValueError, match="sample weight"):
        forest.fit(X, y, sample_weight=-np.ones(50))
    with pytest.raises(ValueError, match="class_weight"):
        grove.RandomForest(class_weight="sometimes").fit(X, y)
    forest.fit(X, y)
    with pytest.raises(ValueError, match="3 features, but the forest was trained with 5"):
        forest.predict(X[:, :3])
    with pytest.raises(ValueError, match="not trained on"):
        grove.permutation_importance(forest, X, np.full(50, 7))
    # Rows with NaN predict all-zero probabilities (as ilastik), never a crash.
    rows = X[:3].copy()
    rows[1, 0] = np.nan
    probabilities = forest.predict_proba(rows)
    assert probabilities[1].sum() == 0 and abs(probabilities[0].sum() - 1) < 1e-6
