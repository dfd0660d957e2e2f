"""scikit-learn's own estimator checks, one test per check."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_bsp import BSPClassifier


def _expected_failed_checks(estimator):
    return {
        # Run for every estimator with a `sparsify` method, this check is
        # written for linear models: it asserts that the single matrix
        # `coef_` becomes sparse. An MLP has a list `coefs_` and no `coef_`;
        # sparsify()/densify() of `coefs_` (predictions unchanged, pickling,
        # refitting) are tested in tests/test_workflows.py.
        "check_sparsify_coefficients": "linear-model check: MLPs have coefs_, "
        "not coef_ (sparsify() is tested in test_workflows.py)",
    }


@parametrize_with_checks(
    [
        BSPClassifier(),
        # The same checks with pruning that really happens within the few
        # epochs and small data sets the checks use.
        BSPClassifier(pruning_rate=0.1, pruning_patience=5),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
