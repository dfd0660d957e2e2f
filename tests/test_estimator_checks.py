"""scikit-learn's own estimator checks, one test per check."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_bsp import BSPClassifier


@parametrize_with_checks(
    [
        BSPClassifier(),
        # The same checks with pruning that really happens within the few
        # epochs and small data sets the checks use.
        BSPClassifier(pruning_rate=0.1, pruning_patience=5),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
