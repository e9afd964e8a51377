"""grove's random forest with scikit-learn's conventions: grove.RandomForest and
grove.permutation_importance."""

import json
import math

import numpy as np

from . import _grove
from ._common import thread_count

_PARAMETERS = (
    "n_trees",
    "seed",
    "max_depth",
    "min_samples_leaf",
    "min_samples_split",
    "max_features",
    "class_weight",
    "bootstrap",
    "max_samples",
    "oob_score",
    "n_jobs",
)


def _as_matrix(X, what="X"):
    array = np.asarray(X)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold numbers, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(
            f"{what} must be 2-dimensional (samples × features), got shape {array.shape}; "
            "use X.reshape(-1, n_features) for images of features"
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def _as_labels(y, rows):
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"y must be 1-dimensional (one label per sample), got shape {array.shape}")
    if array.shape[0] != rows:
        raise ValueError(f"X has {rows} samples but y has {array.shape[0]} labels")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError("y contains NaN or infinity")
    if array.dtype.kind not in "biufUSO":
        raise TypeError(f"y must hold class labels (integers or strings), got dtype {array.dtype}")
    return array


class RandomForest:
    """A random forest classifier (Gini impurity, bootstrap samples, trees grown until pure), as
    ilastik's VIGRA forest, with scikit-learn's conventions.

    Training and prediction run in parallel on grove's thread pool with the GIL released. Labels
    may be any integers or strings (``classes_`` holds them, sorted); the probability columns
    follow ``classes_``. The forest depends on `seed` and the data only, not on the number of
    threads. Forests pickle (and so work with joblib).

    Parameters
    ----------
    n_trees : int, optional
        Number of trees, 1..100000 (ilastik: 100).
    seed : int, optional
        Seed of the random streams (bootstrap samples, features tried); same seed and data,
        same forest.
    max_depth : int, optional
        Deepest a tree may grow (the root splits at depth 0, so 1 gives stumps); None: grow
        until the leaves are pure.
    min_samples_leaf : int, optional
        Fewest bootstrap samples (counted with repetition) in a leaf, at least 1.
    min_samples_split : int, optional
        Nodes with fewer bootstrap samples become leaves, at least 2.
    max_features : {"sqrt", "log2"}, int, float or None, optional
        Features tried at each split: "sqrt" rounds √F (VIGRA's and ilastik's rule; scikit-learn
        rounds down), "log2" floor(log2 F), an int that many, a float in (0, 1] that share of F,
        None all F. When none of them separates a node, the others are tried too.
    class_weight : None, "balanced" or dict, optional
        "balanced" weighs each class by n_samples / (n_classes × its weight sum); a dict
        ``{label: weight}`` multiplies the sample weights of each class.
    bootstrap : bool, optional
        Train each tree on a bootstrap sample (True) or on every sample once (False).
    max_samples : int or float, optional
        Bootstrap sample size: a count of samples or a share in (0, 1]; None: as many as there
        are samples.
    oob_score : bool, optional
        Measure the out-of-bag accuracy into ``oob_score_`` (costs about one prediction of the
        training set).
    n_jobs : int, optional
        Threads; None, 0 or -1 use every core (unlike scikit-learn, whose None means one).

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted; the columns of :meth:`predict_proba`.
    n_classes_ : int
    n_features_in_ : int
    feature_importances_ : ndarray of float64
        Gini importance: the impurity decrease of each feature's splits summed over all trees,
        normalised to sum 1.
    oob_score_ : float
        Out-of-bag accuracy (with ``oob_score=True``).

    Examples
    --------
    >>> import numpy as np, grove
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4)).astype(np.float32)
    >>> y = np.where(X[:, 0] + X[:, 1] > 0, 7, 3)
    >>> forest = grove.RandomForest(n_trees=20, seed=1).fit(X, y)
    >>> forest.classes_
    array([3, 7])
    >>> forest.predict_proba(X[:2]).shape
    (2, 2)
    >>> bool((forest.predict(X) == y).mean() > 0.95)
    True
    """

    def __init__(
        self,
        n_trees=100,
        *,
        seed=0,
        max_depth=None,
        min_samples_leaf=1,
        min_samples_split=2,
        max_features="sqrt",
        class_weight=None,
        bootstrap=True,
        max_samples=None,
        oob_score=False,
        n_jobs=None,
    ):
        self.n_trees = n_trees
        self.seed = seed
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_split = min_samples_split
        self.max_features = max_features
        self.class_weight = class_weight
        self.bootstrap = bootstrap
        self.max_samples = max_samples
        self.oob_score = oob_score
        self.n_jobs = n_jobs

    # scikit-learn's estimator protocol (clone, grid search, pipelines).
    def get_params(self, deep=True):
        """The constructor's parameters, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in _PARAMETERS}

    def set_params(self, **params):
        """Sets constructor parameters, as scikit-learn's ``set_params``; returns self."""
        for name, value in params.items():
            if name not in _PARAMETERS:
                raise ValueError(f"RandomForest has no parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name in _PARAMETERS
            if getattr(self, name) != RandomForest().get_params()[name]
        ]
        return f"RandomForest({', '.join(changed)})"

    def _features_per_split(self, n_features):
        m = self.max_features
        if m is None or (isinstance(m, str) and m == "all"):
            return n_features
        if isinstance(m, str):
            if m == "sqrt":
                return 0  # grove's default: round(√F)
            if m == "log2":
                return max(1, int(math.log2(n_features))) if n_features > 1 else 1
            raise ValueError(f"max_features must be 'sqrt', 'log2', an int, a float or None, not {m!r}")
        if isinstance(m, (bool, np.bool_)):
            raise TypeError(f"max_features must be 'sqrt', 'log2', an int, a float or None, not {m!r}")
        if isinstance(m, (int, np.integer)):
            if not 1 <= m <= n_features:
                raise ValueError(f"max_features = {m} must be in 1..{n_features} (the features)")
            return int(m)
        if isinstance(m, (float, np.floating)):
            if not 0.0 < m <= 1.0:
                raise ValueError(f"max_features = {m} must be in (0, 1] as a float")
            return max(1, int(m * n_features))
        raise TypeError(f"max_features must be 'sqrt', 'log2', an int, a float or None, not {m!r}")

    def _options(self, n_features, n_samples, n_classes):
        def whole(name, value, lowest):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {value!r}")
            if value < lowest:
                raise ValueError(f"{name} must be at least {lowest}, got {value}")
            return int(value)

        fraction = 1.0
        if self.max_samples is not None:
            if isinstance(self.max_samples, (int, np.integer)) and not isinstance(self.max_samples, bool):
                if not 1 <= self.max_samples <= n_samples:
                    raise ValueError(f"max_samples = {self.max_samples} must be in 1..{n_samples}")
                fraction = int(self.max_samples) / n_samples
            else:
                fraction = float(self.max_samples)
                if not 0.0 < fraction <= 1.0:
                    raise ValueError(f"max_samples = {self.max_samples} must be in (0, 1] as a float")
        if self.class_weight is not None and not (
            self.class_weight == "balanced" or hasattr(self.class_weight, "items")
        ):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, not {self.class_weight!r}")
        seed = whole("seed", self.seed, 0)
        return {
            "tree_count": whole("n_trees", self.n_trees, 1),
            "features_per_split": self._features_per_split(n_features),
            "max_depth": 0 if self.max_depth is None else whole("max_depth", self.max_depth, 1),
            "min_leaf_size": whole("min_samples_leaf", self.min_samples_leaf, 1),
            "min_split_size": whole("min_samples_split", self.min_samples_split, 2),
            "bootstrap": bool(self.bootstrap),
            "bootstrap_fraction": fraction,
            "balance_classes": isinstance(self.class_weight, str) and self.class_weight == "balanced",
            "seed": seed,
            "out_of_bag_error": bool(self.oob_score),
            "classes": list(range(n_classes)),
        }

    def fit(self, X, y, sample_weight=None):
        """Train the forest.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Features, finite numbers (converted to float32; copied only when not already a
            C-contiguous float32 array). NaN or infinity raises ValueError.
        y : array_like, shape (n_samples,)
            Class labels: integers or strings, any values.
        sample_weight : array_like, shape (n_samples,), optional
            Weights >= 0 (0 leaves a sample out).

        Returns
        -------
        self
        """
        X = _as_matrix(X)
        y = _as_labels(y, X.shape[0])
        classes, encoded = np.unique(y, return_inverse=True)
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=np.float64)
            if weights.shape != (X.shape[0],):
                raise ValueError(
                    f"sample_weight must hold one weight per sample ({X.shape[0]}), got shape {weights.shape}"
                )
        if self.class_weight is not None and hasattr(self.class_weight, "items"):
            per_class = np.ones(len(classes))
            for label, weight in self.class_weight.items():
                where = np.flatnonzero(classes == label)
                if where.size:
                    per_class[where[0]] = weight
            class_weights = per_class[encoded]
            weights = class_weights if weights is None else weights * class_weights
        options = self._options(X.shape[1], X.shape[0], len(classes))
        self._forest = _grove._train_forest(
            X,
            encoded.astype(np.int32),
            None if weights is None else np.ascontiguousarray(weights, dtype=np.float32),
            json.dumps(options),
            thread_count(self.n_jobs, "n_jobs"),
        )
        self.classes_ = classes
        self.n_classes_ = len(classes)
        self.n_features_in_ = X.shape[1]
        if self.oob_score:
            self.oob_score_ = 1.0 - self._forest.out_of_bag_error
        elif hasattr(self, "oob_score_"):
            del self.oob_score_
        return self

    def _fitted(self):
        if not hasattr(self, "_forest"):
            raise AttributeError("this RandomForest is not fitted yet: call fit(X, y) first")
        return self._forest

    def predict_proba(self, X):
        """Class probabilities: the mean over the trees of their leaves' class distributions.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Features. Rows holding NaN get all-zero probabilities (as in ilastik).

        Returns
        -------
        ndarray of float32, shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        forest = self._fitted()
        X = _as_matrix(X)
        return forest.predict(X, thread_count(self.n_jobs, "n_jobs"))

    def predict(self, X):
        """The most probable class of each sample (the first in ``classes_`` on ties).

        Returns
        -------
        ndarray, shape (n_samples,)
            Labels from ``classes_``.
        """
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on (X, y), weighted by `sample_weight`."""
        correct = self.predict(X) == np.asarray(y).ravel()
        return float(np.average(correct, weights=sample_weight))

    @property
    def feature_importances_(self):
        """Gini importance of each feature (sums to 1)."""
        return self._fitted().gini_importance

    @property
    def n_trees_(self):
        """Trees in the trained forest."""
        return self._fitted().n_trees

    @property
    def depth_(self):
        """Depth of the deepest leaf (nodes on the longest walk from a root)."""
        return self._fitted().depth


def permutation_importance(forest, X, y, n_repeats=5, seed=0, n_jobs=None):
    """Permutation importance: how much a forest's accuracy drops when one feature is shuffled.

    Unlike the Gini importance (``feature_importances_``) it is measured on the data given
    (use held-out data), and is not biased towards features with many distinct values.

    Parameters
    ----------
    forest : RandomForest
        A fitted forest.
    X : array_like, shape (n_samples, n_features)
        Features.
    y : array_like, shape (n_samples,)
        True labels, from ``forest.classes_``.
    n_repeats : int, optional
        Shuffles per feature, averaged (at least 1).
    seed : int, optional
        Seed of the shuffles.
    n_jobs : int, optional
        Threads; None, 0 or -1 use every core.

    Returns
    -------
    ndarray of float64, shape (n_features,)
        Per feature: accuracy on (X, y) minus the mean accuracy with that feature shuffled.

    Examples
    --------
    >>> import numpy as np, grove
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)).astype(np.float32)
    >>> y = (X[:, 2] > 0).astype(int)
    >>> forest = grove.RandomForest(n_trees=10).fit(X, y)
    >>> int(np.argmax(grove.permutation_importance(forest, X, y)))
    2
    """
    if not isinstance(forest, RandomForest):
        raise TypeError(f"forest must be a grove.RandomForest, got {type(forest).__name__}")
    trained = forest._fitted()
    X = _as_matrix(X)
    y = _as_labels(y, X.shape[0])
    positions = np.searchsorted(forest.classes_, y)
    positions = np.clip(positions, 0, len(forest.classes_) - 1)
    unknown = forest.classes_[positions] != y
    if np.any(unknown):
        raise ValueError(f"y holds labels the forest was not trained on: {np.unique(y[unknown])[:10]}")
    return np.asarray(
        _grove._permutation_importance(
            trained, X, positions.astype(np.int32), int(n_repeats), int(seed), thread_count(n_jobs, "n_jobs")
        )
    )
