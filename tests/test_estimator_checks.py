"""scikit-learn's own estimator checks, as a user runs them: nothing excused."""

import pytest
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from sklearn_bsp import BSPClassifier, BSPRegressor

ESTIMATORS = [
    BSPClassifier(),
    BSPRegressor(),
    # The same checks with pruning that really happens within the few
    # epochs and small data sets the checks use.
    BSPClassifier(pruning_rate=0.1, pruning_patience=5),
    BSPRegressor(pruning_rate=0.1, pruning_patience=5),
    BSPClassifier(solver="lbfgs", pruning_rate=0.1, pruning_patience=3),
    BSPRegressor(solver="lbfgs", pruning_rate=0.1, pruning_patience=3),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.slow
@pytest.mark.parametrize("estimator", [BSPClassifier(), BSPRegressor()], ids=repr)
def test_plain_check_estimator_reports_no_failure(estimator):
    # Exactly what a user types; a failed check raises.
    results = check_estimator(estimator, on_fail=None)
    failed = [r for r in results if r["status"] in ("failed", "xfail")]
    assert failed == [], failed
