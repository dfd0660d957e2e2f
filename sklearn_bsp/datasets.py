"""Loaders for the image data sets of the BSP paper, read from local IDX files.

Fashion-MNIST is the paper's second data set. Its files come from the Debian package
``dataset-fashion-mnist``; nothing is downloaded. MNIST and CIFAR-10 cannot be fetched
on every machine, so each data set is one entry of ``_IDX_DATASETS``: adding one that
ships as IDX files means adding an entry and a three-line public loader.
"""

import gzip
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["load_fashion_mnist", "read_idx"]

#: Environment variable naming the directory to search when ``data_home`` is None.
DATA_HOME_ENV = "SKLEARN_BSP_DATA"

# Debian's dataset-* packages install into /usr/share/datasets/<name>/.
_DEFAULT_DATA_HOME = "/usr/share/datasets"

# Type codes of the third magic-number byte (IDX specification, LeCun et al.).
# The payload is big-endian for every multi-byte type.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class _IdxDataset(NamedTuple):
    """Where an IDX image data set lives and what its labels mean."""

    title: str
    subdir: str  # directory name under a data home, e.g. /usr/share/datasets/<subdir>
    files: dict  # subset -> (images file, labels file), without ".gz"
    target_names: tuple
    debian_package: str | None
    descr: str


_FASHION_MNIST_DESCR = """\
.. _fashion_mnist_dataset:

Fashion-MNIST
-------------

**Data Set Characteristics:**

:Number of Instances: 70,000 (60,000 train, 10,000 test)
:Number of Attributes: 784 (28 x 28 pixels)
:Attribute Information: grey level, 0 (background) to 255 (ink); divided by
    255 when ``scale=True``
:Classes: 10, 7,000 images each (6,000 train, 1,000 test)
:Creators: Han Xiao, Kashif Rasul and Roland Vollgraf (Zalando Research)
:License: MIT
:Date: 2017

Zalando article images in the format of MNIST: same image size, same number of
classes, same train/test split, same IDX files. The classes are T-shirt/top,
Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag and Ankle boot.
Zhao & Zeng (2021) use it as the second of their three benchmarks for
brain-inspired synaptic pruning, with all 60,000 training images and with
1,200 of them.

.. rubric:: References

- H. Xiao, K. Rasul and R. Vollgraf (2017). Fashion-MNIST: a Novel Image
  Dataset for Benchmarking Machine Learning Algorithms. arXiv:1708.07747.
- F. Zhao and Y. Zeng (2021). Dynamically Optimizing Network Structure Based
  on Synaptic Pruning in the Brain. Frontiers in Systems Neuroscience
  15:620558. doi:10.3389/fnsys.2021.620558.
"""

_IDX_DATASETS = {
    "fashion-mnist": _IdxDataset(
        title="Fashion-MNIST",
        subdir="fashion-mnist",
        files={
            "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        },
        target_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        debian_package="dataset-fashion-mnist",
        descr=_FASHION_MNIST_DESCR,
    ),
}

# "all" is train followed by test, so the first 60,000 rows stay the usual train split.
_SUBSETS = {"train": ("train",), "test": ("test",), "all": ("train", "test")}


def read_idx(path):
    """Read an IDX file into a NumPy array.

    IDX is the format of the MNIST family of data sets: a 4-byte magic number
    (two zero bytes, a type code, the number of dimensions), one big-endian
    ``int32`` per dimension, then the values in C order. Gzip-compressed files
    are recognised by their content, not by their name.

    Parameters
    ----------
    path : str or os.PathLike
        File to read, raw or gzip-compressed.

    Returns
    -------
    array : ndarray
        Array of the shape given in the header, in native byte order. Type codes
        ``0x08`` to ``0x0E`` give ``uint8``, ``int8``, ``int16``, ``int32``,
        ``float32`` and ``float64``.

    Raises
    ------
    ValueError
        If the file is not a valid IDX file: bad magic number, unknown type code,
        header or payload shorter or longer than the header announces, or a
        corrupt gzip stream. The message names the file.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> from sklearn_bsp.datasets import read_idx
    >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") * 2
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(header + bytes([0, 1, 2, 255]))
    >>> read_idx(path)
    array([[  0,   1],
           [  2, 255]], dtype=uint8)
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        content = f.read()
    if content[:2] == _GZIP_MAGIC:
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: corrupt gzip stream ({exc}).") from exc

    if len(content) < 4:
        raise ValueError(
            f"{path}: not an IDX file, {len(content)} bytes is shorter than the "
            "4-byte magic number."
        )
    zero0, zero1, type_code, ndim = content[:4]
    if zero0 != 0 or zero1 != 0 or type_code not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file, bad magic number 0x{content[:4].hex()} "
            "(expected 0x0000 followed by a type code in "
            f"{{{', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)}}} and the number of "
            "dimensions)."
        )
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(
            f"{path}: truncated IDX header, {ndim} dimensions need {header_size} "
            f"bytes but the file has {len(content)}."
        )
    shape = tuple(
        int.from_bytes(content[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim)
    )
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(content) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "trailing bytes in"
        raise ValueError(
            f"{path}: {problem} IDX payload, shape {shape} of {dtype.name} needs "
            f"{expected} bytes after the header but the file has {actual}."
        )
    array = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    # astype copies: the result is writable, native-endian and frees `content`.
    return array.astype(dtype.newbyteorder("="))


def _resolve_directory(data_home, spec, subset_keys):
    """Return the directory holding the files, or raise FileNotFoundError.

    ``data_home`` may hold the files itself (as ``/usr/share/datasets/fashion-mnist``
    does) or be a root with one subdirectory per data set (as ``/usr/share/datasets``
    is), so one root serves every data set.
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or _DEFAULT_DATA_HOME
    root = Path(data_home).expanduser()
    names = [name for key in subset_keys for name in spec.files[key]]
    candidates = (root, root / spec.subdir)
    for directory in candidates:
        if all(_find_file(directory, name) is not None for name in names):
            return directory

    # Name the first file missing from the directory the user most likely meant.
    directory = next((d for d in reversed(candidates) if d.is_dir()), root)
    missing = next(name for name in names if _find_file(directory, name) is None)
    hint = (
        f" Install it with `apt-get install {spec.debian_package}` (files go to "
        f"{Path(_DEFAULT_DATA_HOME) / spec.subdir}), or"
        if spec.debian_package
        else " Put the IDX files there, or"
    )
    raise FileNotFoundError(
        f"{spec.title} file not found: {directory / (missing + '.gz')} "
        f"(nor uncompressed {directory / missing}).{hint} pass data_home= the "
        f"directory that holds them, or set the {DATA_HOME_ENV} environment "
        "variable to it."
    )


def _find_file(directory, name):
    """Path of ``name`` in ``directory``, gzipped or not; None if absent."""
    for candidate in (directory / (name + ".gz"), directory / name):
        if candidate.is_file():
            return candidate
    return None


def _read_split(directory, images_name, labels_name, n_classes):
    """Read one images/labels pair and check that they belong together."""
    images_path = _find_file(directory, images_name)
    labels_path = _find_file(directory, labels_name)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(
            f"{images_path} must hold a 3-D array (n_images, rows, columns) and "
            f"{labels_path} a 1-D array; got shapes {images.shape} and "
            f"{labels.shape}."
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{labels_path}: labels must lie in [0, {n_classes - 1}], got values "
            f"from {labels.min()} to {labels.max()}."
        )
    return images, labels


# Shared by every public loader; sklearn's own loaders validate the same way, so
# users see the errors (InvalidParameterError, a ValueError) they already know.
_LOAD_PARAMETER_CONSTRAINTS = {
    "data_home": [str, os.PathLike, None],
    "subset": [StrOptions(set(_SUBSETS))],
    "return_X_y": ["boolean"],
    "dtype": "no_validation",  # checked by _check_dtype, with scale
    "scale": ["boolean"],
}


def _check_dtype(dtype, scale):
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be a NumPy dtype, got {dtype!r}.") from exc
    if dtype.kind not in "iuf":
        raise ValueError(f"dtype must be an integer or floating dtype, got {dtype}.")
    if scale and dtype.kind != "f":
        raise ValueError(
            f"scale=True divides pixels by 255 and needs a floating dtype, got "
            f"{dtype}; pass scale=False to keep integer grey levels."
        )
    return dtype


def _load_idx_dataset(name, data_home, *, subset, return_X_y, dtype, scale):
    """Load data set ``name`` of ``_IDX_DATASETS``; the public loaders wrap this."""
    spec = _IDX_DATASETS[name]
    dtype = _check_dtype(dtype, scale)
    keys = _SUBSETS[subset]
    directory = _resolve_directory(data_home, spec, keys)

    splits = [
        _read_split(directory, *spec.files[key], len(spec.target_names)) for key in keys
    ]
    image_shapes = {images.shape[1:] for images, _ in splits}
    if len(image_shapes) > 1:
        raise ValueError(
            f"{spec.title} files in {directory} disagree on the image size: "
            f"{sorted(image_shapes)}."
        )
    raw = np.concatenate([images for images, _ in splits])
    target = np.concatenate([labels for _, labels in splits]).astype(np.int64)

    n_rows, n_cols = raw.shape[1:]
    data = raw.reshape(len(raw), n_rows * n_cols).astype(dtype)
    if scale:
        data /= 255  # in place: no second full-size copy
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=data.reshape(len(data), n_rows, n_cols),
        feature_names=[f"pixel_{r}_{c}" for r in range(n_rows) for c in range(n_cols)],
        target_names=np.asarray(spec.target_names),
        DESCR=spec.descr,
    )


@validate_params(_LOAD_PARAMETER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_fashion_mnist(
    data_home=None, *, subset="train", return_X_y=False, dtype=np.float32, scale=True
):
    """Load the Fashion-MNIST data set (classification) from local IDX files.

    =================   ==========================
    Classes                                     10
    Samples per class   6,000 train, 1,000 test
    Samples total       60,000 train, 10,000 test
    Dimensionality                             784
    Features            grey levels, 0 to 255
    =================   ==========================

    The files are not downloaded. Get them with the Debian package
    ``dataset-fashion-mnist`` (``apt-get install dataset-fashion-mnist``), which
    installs ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` into
    ``/usr/share/datasets/fashion-mnist``, or put those four files (gzipped or not)
    in a directory of your own and pass it as ``data_home``.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Directory holding the IDX files, or a directory with a ``fashion-mnist``
        subdirectory holding them. If None, the directory named by the environment
        variable ``SKLEARN_BSP_DATA`` is used, and ``/usr/share/datasets`` when that
        is unset or empty.

    subset : {"train", "test", "all"}, default="train"
        Which split to load: the 60,000 training images, the 10,000 test images,
        or both, training images first.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    dtype : dtype, default=np.float32
        Data type of ``data``. Float32 halves memory and is what the estimators
        of this package compute in when given it.

    scale : bool, default=True
        If True, divide the grey levels by 255 so pixels lie in ``[0, 1]``; this
        needs a floating ``dtype``. If False, keep the grey levels 0 to 255.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_samples, 784)
            One flattened 28 x 28 image per row, in ``dtype``.
        target : ndarray of shape (n_samples,), dtype=int64
            Class index, 0 to 9.
        images : ndarray of shape (n_samples, 28, 28)
            The images, a view of ``data`` (they share memory).
        feature_names : list of str
            ``"pixel_<row>_<column>"``, as in :func:`sklearn.datasets.load_digits`.
        target_names : ndarray of shape (10,)
            Class names, ``target_names[target]`` labels each image.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        The two arrays described above.

    Raises
    ------
    FileNotFoundError
        If the files are missing. The message names the missing file and how to
        get it.
    ValueError
        If a parameter is invalid or a file is corrupt or truncated.

    See Also
    --------
    read_idx : Read one IDX file.
    sklearn.datasets.load_digits : Small 8 x 8 digits, always available.

    References
    ----------
    .. [1] H. Xiao, K. Rasul and R. Vollgraf (2017). Fashion-MNIST: a Novel Image
       Dataset for Benchmarking Machine Learning Algorithms. arXiv:1708.07747.

    Examples
    --------
    >>> from sklearn_bsp.datasets import load_fashion_mnist
    >>> X, y = load_fashion_mnist(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype, float(X.max())  # doctest: +SKIP
    ((60000, 784), dtype('float32'), 1.0)
    >>> test = load_fashion_mnist(subset="test")  # doctest: +SKIP
    >>> test.target_names[test.target[:3]]  # doctest: +SKIP
    array(['Ankle boot', 'Pullover', 'Trouser'], dtype='<U11')
    """
    return _load_idx_dataset(
        "fashion-mnist",
        data_home,
        subset=subset,
        return_X_y=return_X_y,
        dtype=dtype,
        scale=scale,
    )
