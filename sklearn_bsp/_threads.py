"""Who uses the cores: the compiled kernels, BLAS, or prediction's threads.

A process that imports this package holds up to four thread pools: the
OpenMP runtime of the compiled kernels, scikit-learn's own OpenMP runtime,
and the OpenBLAS pools of NumPy and SciPy. Each pool keeps its threads
spinning for a while after a call, waiting for the next one. When a pool
starts while another one still spins, the two fight over the cores (on a
2-core machine, prediction of a pruned network ran 10x slower than with one
thread). The rule here, as in scikit-learn's k-means: **one pool works at a
time**.

- Training: while a layer multiplies through the kernels (OpenMP), BLAS is
  held at one thread for the epoch (:func:`single_threaded_blas`), as
  scikit-learn does around its OpenMP regions. Dense epochs keep BLAS's
  threads and run no OpenMP region.
- Prediction through the compacted network: the rows are split into blocks
  and each of :func:`effective_n_threads` Python threads runs whole blocks,
  with one-threaded kernels and one-threaded BLAS (:func:`map_blocks`). Both
  release the GIL, so no OpenMP team and no BLAS pool is woken at all.

The thread count follows the user's limits the way scikit-learn's OpenMP
estimators do: ``OMP_NUM_THREADS``, ``threadpoolctl.threadpool_limits`` and
the one thread that joblib gives each of its workers (``n_jobs``).
"""

import itertools
import threading

from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils.parallel import _get_threadpool_controller


def effective_n_threads():
    """Number of threads the kernels may use, within the user's limits.

    Returns
    -------
    n_threads : int
        ``min(omp_get_max_threads(), number of cores)``, as scikit-learn's
        OpenMP estimators use; 1 inside a joblib worker of a parallel grid
        search, and after ``threadpool_limits(1)``.
    """
    return _openmp_effective_n_threads()


def single_threaded_blas():
    """Context manager holding BLAS at one thread.

    Returns
    -------
    limiter : context manager
        scikit-learn's shared ``threadpoolctl`` controller limiting BLAS
        (a user's lower limit is kept).
    """
    return _get_threadpool_controller().limit(limits=1, user_api="blas")


def map_blocks(function, blocks, n_threads):
    """``[function(block) for block in blocks]``, on ``n_threads`` threads.

    The calling thread works too; the blocks are handed out one at a time,
    so a thread that the system does not schedule leaves its share to the
    others instead of holding up the call.

    Parameters
    ----------
    function : callable
        Called with one block; must release the GIL for the threads to pay
        (NumPy, BLAS and the compiled kernels do).
    blocks : sequence
        The work items; the results keep their order.
    n_threads : int
        Threads to use; 1 runs in the calling thread alone.

    Returns
    -------
    results : list
        ``function``'s result for each block, in order. The first exception
        raised by a block is raised again here.
    """
    blocks = list(blocks)
    n_threads = min(n_threads, len(blocks))
    if n_threads <= 1:
        return [function(block) for block in blocks]
    results = [None] * len(blocks)
    errors = []
    # next() on an itertools.count is atomic under the GIL.
    ticket = itertools.count()

    def work():
        try:
            for i in ticket:
                if i >= len(blocks) or errors:
                    return
                results[i] = function(blocks[i])
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    # Starting a thread costs about 0.15 ms; a pool (executor) about 1 ms.
    helpers = [threading.Thread(target=work) for _ in range(n_threads - 1)]
    for helper in helpers:
        helper.start()
    work()
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
    return results
