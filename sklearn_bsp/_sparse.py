"""Pruned layers stored by their alive synapses.

A layer is a weight matrix ``coef`` of shape ``(n_in, n_out)`` and a boolean
``mask`` (True = alive synapse). :class:`SparseLayer` keeps only the alive
synapses, in compressed columns over the inputs and outputs that still have
one, and computes the three products a training step needs:

- ``forward(X)``: ``X @ coef``;
- ``backward(delta)``: ``delta @ coef.T``;
- ``sampled_grad(X, delta)``: the alive entries of ``X.T @ delta``.

The compiled kernels (``_sparse_kernels``, Cython) are used when they can be
imported; otherwise the same results come from NumPy and ``scipy.sparse``.
:func:`choose_kernel` says when the sparse path beats the dense BLAS product,
from crossovers measured by ``benchmarks/bench_kernels.py``.
"""

import numpy as np
import scipy.sparse as sp

from ._kernels import sparse_kernels as _kernels

#: Whether the compiled kernels are available.
COMPILED = _kernels is not None

# Densities (share of alive synapses) below which the sparse path is faster
# than the dense BLAS product, per product: break-even points measured with
# ``benchmarks/bench_kernels.py``, with a margin below them since they move
# with the machine, the BLAS and the number of threads. The scipy.sparse
# fallback breaks even at far lower densities, and its gradient is always the
# dense product.
_CROSSOVER_COMPILED = {"forward": 0.35, "backward": 0.30, "grad": 0.35}
_CROSSOVER_SCIPY = {"forward": 0.05, "backward": 0.05, "grad": 0.0}


class NonFiniteInput(ValueError):
    """Raised by :meth:`SparseLayer.forward` when asked to check the input
    and it holds a NaN or an infinity (the caller words the message)."""


def choose_kernel(density, n_samples=200, op="forward", compiled=None):
    """Pick the faster way to compute one product of a pruned layer.

    Parameters
    ----------
    density : float
        Share of alive synapses in the layer, in ``[0, 1]``.
    n_samples : int, default=200
        Rows of the dense operand. Below 16 samples the products take a few
        microseconds either way and were not measured: the dense product is
        chosen.
    op : {"forward", "backward", "grad"}, default="forward"
        The product: ``X @ W``, ``delta @ W.T`` or the gradient ``X.T @ delta``.
    compiled : bool or None, default=None
        Whether the compiled kernels would be used; None means "if available".

    Returns
    -------
    kernel : {"sparse", "dense"}
        ``"sparse"`` if :class:`SparseLayer` is expected to be faster than the
        dense BLAS product on the masked matrix.
    """
    if compiled is None:
        compiled = COMPILED
    table = _CROSSOVER_COMPILED if compiled else _CROSSOVER_SCIPY
    if n_samples < 16 or density >= table[op]:
        return "dense"
    return "sparse"


# Chunked visits pay a load and a store of a column's accumulators per chunk;
# with fewer synapses than this per column and chunk, on average, that costs
# more than the L1 hits save.
_MIN_SYNAPSES_PER_CHUNK = 16


def _chunk_pointers(idx, indptr, n_features):
    """First synapse of each compressed column in each chunk of features.

    Parameters
    ----------
    idx : ndarray of int32 of shape (nnz,)
        Feature read by each synapse, increasing within each column.
    indptr : ndarray of int32 of shape (n_columns + 1,)
        Compressed-column pointers.
    n_features : int
        Number of features of the dense operand.

    Returns
    -------
    cptr : ndarray of int32 of shape (n_columns, n_chunks + 1)
        ``cptr[j, c]:cptr[j, c + 1]`` are the synapses of column ``j`` that
        read features ``c * CHUNK`` to ``(c + 1) * CHUNK``. A single chunk
        (``cptr[j] = indptr[j:j + 2]``) when chunks would not pay.
    """
    n_cols = len(indptr) - 1
    chunk = _kernels.CHUNK if COMPILED else n_features
    n_chunks = max(1, -(-n_features // max(chunk, 1)))
    if n_chunks == 1 or len(idx) < _MIN_SYNAPSES_PER_CHUNK * n_cols * n_chunks:
        return np.column_stack([indptr[:-1], indptr[1:]]).astype(np.int32)
    col_of = np.repeat(np.arange(n_cols, dtype=np.int64), np.diff(indptr))
    key = col_of * n_features + idx
    bounds = np.minimum(np.arange(n_chunks + 1) * chunk, n_features)
    targets = np.arange(n_cols, dtype=np.int64)[:, None] * n_features + bounds
    return np.searchsorted(key, targets).astype(np.int32)


class SparseLayer:
    """A pruned weight matrix stored by its alive synapses.

    Build it with :meth:`from_dense`. The alive synapses are kept in
    compressed columns over *compact* indices: column ``j`` is output neuron
    ``cols[j]``; synapse ``k`` of that column connects input
    ``rows[indices[k]]`` with value ``data[k]``. Inputs without an alive
    synapse and outputs without an alive input are not stored: their column of
    ``forward`` and of ``backward`` is 0.

    Parameters
    ----------
    shape : tuple of int
        ``(n_in, n_out)`` of the dense weight matrix.
    rows : ndarray of int32
        Inputs with at least one alive synapse, increasing.
    cols : ndarray of int32
        Outputs with at least one alive synapse, increasing.
    indptr, indices : ndarray of int32
        Compressed columns over ``rows`` (indices into ``rows``).
    data : ndarray of float32 or float64
        Weights of the alive synapses, in the order of ``indices``.
    use_compiled : bool, default=True
        Use the compiled kernels if they are available; False forces the
        NumPy / SciPy implementation.
    n_threads : int, default=-1
        OpenMP threads for the compiled kernels; -1 means all.

    Attributes
    ----------
    nnz : int
        Number of alive synapses.
    density : float
        ``nnz / (n_in * n_out)``.
    compiled : bool
        Whether the compiled kernels are used.

    Examples
    --------
    >>> import numpy as np
    >>> coef = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 3.0]], dtype=np.float32)
    >>> layer = SparseLayer.from_dense(coef, coef != 0)
    >>> layer.forward(np.ones((1, 3), dtype=np.float32))
    array([[3., 3.]], dtype=float32)
    >>> layer.rows, layer.data
    (array([0, 2], dtype=int32), array([1., 2., 3.], dtype=float32))
    """

    def __init__(
        self,
        shape,
        rows,
        cols,
        indptr,
        indices,
        data,
        *,
        use_compiled=True,
        n_threads=-1,
    ):
        self.shape = tuple(shape)
        self.rows = np.asarray(rows, dtype=np.int32)
        self.cols = np.asarray(cols, dtype=np.int32)
        self.indptr = np.asarray(indptr, dtype=np.int32)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.data = np.ascontiguousarray(data)
        if self.data.dtype not in (np.float32, np.float64):
            self.data = self.data.astype(np.float64)
        self.compiled = bool(use_compiled) and COMPILED
        self.n_threads = n_threads
        # Compressed rows for the backward pass: the same synapses, grouped
        # by input; values are gathered from ``data`` through ``_perm``.
        position = sp.csc_array(
            (np.arange(self.nnz, dtype=np.int64), self.indices, self.indptr),
            shape=(len(self.rows), len(self.cols)),
        ).tocsr()
        position.sort_indices()
        t_indptr = position.indptr.astype(np.int32)
        t_indices = position.indices.astype(np.int32)
        self._perm = position.data
        # The kernels read the dense operand by its own column numbers (so
        # that it is transposed whole, without a gather) and visit each
        # column's synapses chunk by chunk of input features.
        self._fwd_idx = self.rows[self.indices]
        self._fwd_cptr = _chunk_pointers(self._fwd_idx, self.indptr, self.shape[0])
        self._bwd_idx = self.cols[t_indices]
        self._bwd_cptr = _chunk_pointers(self._bwd_idx, t_indptr, self.shape[1])

    @classmethod
    def from_dense(cls, coef, mask=None, **kwargs):
        """Build the layer from a dense weight matrix and its mask.

        Parameters
        ----------
        coef : ndarray of shape (n_in, n_out)
            Weights; float32 stays float32, other dtypes become float64.
        mask : ndarray of bool of shape (n_in, n_out), default=None
            True for alive synapses; None means ``coef != 0``.
        **kwargs
            ``use_compiled`` and ``n_threads``, see :class:`SparseLayer`.

        Returns
        -------
        layer : SparseLayer
        """
        coef = np.asarray(coef)
        if coef.dtype not in (np.float32, np.float64):
            coef = coef.astype(np.float64)
        mask = coef != 0 if mask is None else np.asarray(mask, dtype=bool)
        if mask.shape != coef.shape or coef.ndim != 2:
            raise ValueError(
                f"coef and mask must be 2-d of the same shape, got {coef.shape} "
                f"and {mask.shape}"
            )
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        compact = mask[np.ix_(rows, cols)]
        # Column-major walk of the compact mask = compressed-column order.
        col_of, row_of = np.nonzero(compact.T)
        indptr = np.zeros(len(cols) + 1, dtype=np.int32)
        np.cumsum(np.bincount(col_of, minlength=len(cols)), out=indptr[1:])
        data = coef[rows[row_of], cols[col_of]]
        return cls(coef.shape, rows, cols, indptr, row_of, data, **kwargs)

    @property
    def nnz(self):
        """Number of alive synapses."""
        return len(self.indices)

    @property
    def dtype(self):
        """dtype of the weights and of the products."""
        return self.data.dtype

    @property
    def density(self):
        """Share of alive synapses, ``nnz / (n_in * n_out)``."""
        size = self.shape[0] * self.shape[1]
        return self.nnz / size if size else 0.0

    def _synapse_cols(self):
        """Compact column of each stored synapse."""
        return np.repeat(np.arange(len(self.cols)), np.diff(self.indptr))

    def _check(self, X, n_features):
        X = np.asarray(X)
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ValueError(f"expected shape (n_samples, {n_features}), got {X.shape}")
        return X

    def forward(self, X, n_threads=None, check_finite=False):
        """Compute ``X @ coef``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_in)
            Any memory order; Fortran order (samples contiguous) is fastest.
        n_threads : int, default=None
            OpenMP threads for this call; None means the layer's
            ``n_threads``.
        check_finite : bool, default=False
            Also check that ``X`` holds no NaN or infinity; the compiled
            kernel does it on each block of samples it has just transposed,
            in cache, for about a tenth of a separate pass over ``X``.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_out), Fortran-ordered
            In the dtype of the layer. Fortran order is what the kernels
            write without a transposition, and what the next layer reads best.

        Raises
        ------
        NonFiniteInput
            If ``check_finite`` and ``X`` holds a NaN or an infinity.
        """
        X = self._check(X, self.shape[0])
        n, n_out = X.shape[0], self.shape[1]
        alloc = np.empty if len(self.cols) == n_out else np.zeros
        out_t = alloc((n_out, n), dtype=self.dtype)
        if self.compiled:
            nonfinite = _kernels.spmm(
                X,
                self._fwd_idx,
                self._fwd_cptr,
                self.data,
                self.cols,
                out_t,
                self.n_threads if n_threads is None else n_threads,
                check_finite,
            )
        else:
            nonfinite = check_finite and not np.isfinite(X).all()
            out_t[self.cols] = (self._scipy_csc().T @ X[:, self.rows].T).astype(
                self.dtype, copy=False
            )
        if nonfinite:
            raise NonFiniteInput("the input holds NaN or infinity")
        return out_t.T

    def backward(self, delta, n_threads=None):
        """Compute ``delta @ coef.T`` (the error of the previous layer).

        Parameters
        ----------
        delta : ndarray of shape (n_samples, n_out)
        n_threads : int, default=None
            OpenMP threads for this call; None means the layer's
            ``n_threads``.

        Returns
        -------
        D : ndarray of shape (n_samples, n_in), Fortran-ordered
        """
        delta = self._check(delta, self.shape[1])
        n, n_in = delta.shape[0], self.shape[0]
        alloc = np.empty if len(self.rows) == n_in else np.zeros
        out_t = alloc((n_in, n), dtype=self.dtype)
        if self.compiled:
            _kernels.spmm(
                delta,
                self._bwd_idx,
                self._bwd_cptr,
                self.data[self._perm],
                self.rows,
                out_t,
                self.n_threads if n_threads is None else n_threads,
            )
        else:
            out_t[self.rows] = (self._scipy_csc() @ delta[:, self.cols].T).astype(
                self.dtype, copy=False
            )
        return out_t.T

    def sampled_grad(self, X, delta, n_threads=None):
        """Compute the alive entries of ``X.T @ delta``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_in)
            Input of the layer.
        delta : ndarray of shape (n_samples, n_out)
            Error at the output of the layer.
        n_threads : int, default=None
            OpenMP threads for this call; None means the layer's
            ``n_threads``.

        Returns
        -------
        grad : ndarray of shape (nnz,)
            ``grad[k] = sum_n X[n, rows[indices[k]]] * delta[n, cols[j]]`` for
            synapse ``k`` in column ``j``: aligned with ``data``.
        """
        X = self._check(X, self.shape[0])
        delta = self._check(delta, self.shape[1])
        if X.shape[0] != delta.shape[0]:
            raise ValueError("X and delta must have the same number of samples")
        grad = np.empty(self.nnz, dtype=self.dtype)
        if self.compiled:
            _kernels.sddmm(
                X,
                self._fwd_idx,
                delta,
                self.cols,
                self._fwd_cptr,
                grad,
                self.n_threads if n_threads is None else n_threads,
            )
        else:
            full = X[:, self.rows].T @ delta[:, self.cols]
            grad[:] = full[self.indices, self._synapse_cols()]
        return grad

    def toarray(self):
        """The dense weight matrix, 0 where no synapse is stored.

        Returns
        -------
        coef : ndarray of shape (n_in, n_out)
            In the dtype of the layer.
        """
        coef = np.zeros(self.shape, dtype=self.dtype)
        coef[np.ix_(self.rows, self.cols)] = self._scipy_csc().toarray()
        return coef

    def _scipy_csc(self):
        """The compact matrix as a ``scipy.sparse`` CSC array."""
        return sp.csc_array(
            (self.data, self.indices, self.indptr),
            shape=(len(self.rows), len(self.cols)),
        )
