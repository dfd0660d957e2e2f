"""Fitting from a ``numpy.memmap`` reads the file in minibatches: no copy.

A float64 or float32 memmap of about 50 MB is fitted, continued with
``partial_fit`` over slices, and predicted on; ``tracemalloc`` (which sees
NumPy's array allocations) must report a peak far below the size of the data.
The model is the same, bit for bit, as one fitted from the data in memory.
"""

import tracemalloc

import numpy as np
import pytest

from sklearn_bsp import BSPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_SAMPLES, N_FEATURES = 12_500, 500  # 50 MB of float64, 25 MB of float32


def _write_memmap(path, dtype):
    """Write random data to an .npy file piece by piece; open it read-only."""
    X = np.lib.format.open_memmap(
        path, mode="w+", dtype=dtype, shape=(N_SAMPLES, N_FEATURES)
    )
    rng = np.random.default_rng(0)
    for start in range(0, N_SAMPLES, 2_500):
        X[start : start + 2_500] = rng.standard_normal((2_500, N_FEATURES))
    X.flush()
    del X
    return np.load(path, mmap_mode="r")


def _peak_bytes(func):
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _clf():
    return BSPClassifier(
        hidden_layer_sizes=(16,),
        pruning_rate=0.2,
        pruning_patience=3,
        max_iter=1,
        random_state=0,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_from_memmap_does_not_copy_the_data(tmp_path, dtype):
    X = _write_memmap(tmp_path / "X.npy", dtype)
    assert isinstance(X, np.memmap) and not X.flags.writeable
    y = np.arange(N_SAMPLES) % 3
    limit = 0.2 * X.nbytes  # a copy of X would be 100 %

    clf = _clf()
    peak = _peak_bytes(lambda: clf.fit(X, y))
    assert peak < limit, f"fit allocated {peak / X.nbytes:.0%} of the data"
    assert clf.compression_ > 0
    assert clf.coefs_[0].dtype == dtype  # no conversion either

    def continue_over_slices():
        for start in range(0, N_SAMPLES, 2_500):
            part = slice(start, start + 2_500)
            clf.partial_fit(X[part], y[part])

    peak = _peak_bytes(continue_over_slices)
    assert peak < limit, f"partial_fit allocated {peak / X.nbytes:.0%} of the data"

    peak = _peak_bytes(lambda: clf.predict_proba(X))
    assert peak < limit, f"predict_proba allocated {peak / X.nbytes:.0%}"

    # Reading from the file changes nothing in the arithmetic.
    in_memory = _clf().fit(np.array(X), y)
    for part in range(0, N_SAMPLES, 2_500):
        in_memory.partial_fit(np.array(X[part : part + 2_500]), y[part : part + 2_500])
    for a, b in zip(
        clf.coefs_ + clf.coef_masks_, in_memory.coefs_ + in_memory.coef_masks_
    ):
        assert np.array_equal(a, b)
