"""Tests for sklearn_bsp.datasets: tiny IDX files written here, then the real ones."""

import gzip
import os
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_bsp.datasets import DATA_HOME_ENV, load_fashion_mnist, read_idx

REAL_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array, type_code=0x08):
    """Encode ``array`` as IDX: 0, 0, type code, ndim, big-endian dims, payload."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(dtype[type_code]).tobytes()


def write(path, content, compress):
    if compress:
        path = path.with_name(path.name + ".gz")
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


def make_split(rng, n, shape=(2, 3)):
    images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


@pytest.fixture
def tiny(tmp_path):
    """Tiny Fashion-MNIST look-alike: 5 train and 3 test images of 2 x 3 pixels.

    Train files are gzipped and test files raw, so every load exercises both.
    """
    rng = np.random.default_rng(0)
    splits = {"train": make_split(rng, 5), "test": make_split(rng, 3)}
    for key, (images, labels) in splits.items():
        compress = key == "train"
        write(tmp_path / FILES[key][0], idx_bytes(images), compress)
        write(tmp_path / FILES[key][1], idx_bytes(labels), compress)
    return tmp_path, splits


# read_idx --------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "type_code, values",
    [
        (0x08, np.arange(24).reshape(2, 3, 4)),
        (0x09, [-128, -1, 0, 127]),
        (0x0B, [[-300, 2], [3, 30000]]),
        (0x0C, [-(2**31), 2**31 - 1]),
        (0x0D, [[0.5, -1.25]]),
    ],
)
def test_read_idx_round_trip(tmp_path, compress, type_code, values):
    path = write(tmp_path / "x-idx", idx_bytes(values, type_code), compress)
    array = read_idx(path)
    assert_array_equal(array, values)
    assert array.dtype.isnative
    assert array.flags.writeable


def test_read_idx_detects_gzip_by_content(tmp_path):
    # A gzipped file without ".gz" and a raw file with ".gz" both read correctly.
    values = np.arange(6, dtype=np.uint8).reshape(2, 3)
    (tmp_path / "gz").write_bytes(gzip.compress(idx_bytes(values)))
    (tmp_path / "raw.gz").write_bytes(idx_bytes(values))
    assert_array_equal(read_idx(tmp_path / "gz"), values)
    assert_array_equal(read_idx(str(tmp_path / "raw.gz")), values)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x00\x00", "shorter than the 4-byte magic number"),
        (b"\x01\x00\x08\x01" + (1).to_bytes(4, "big") + b"\x00", "bad magic"),
        (b"\x00\x00\x07\x01" + (1).to_bytes(4, "big") + b"\x00", "bad magic"),
        (b"\x00\x00\x08\x03" + (1).to_bytes(4, "big"), "truncated IDX header"),
        (b"\x00\x00\x08\x01" + (4).to_bytes(4, "big") + b"\x00" * 3, "truncated"),
        (b"\x00\x00\x08\x01" + (4).to_bytes(4, "big") + b"\x00" * 5, "trailing"),
        (b"\x00\x00\x0c\x01" + (2).to_bytes(4, "big") + b"\x00" * 7, "truncated"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_rejects_bad_files(tmp_path, content, match, compress):
    path = write(tmp_path / "bad-idx", content, compress)
    with pytest.raises(ValueError, match=match) as excinfo:
        read_idx(path)
    assert str(path) in str(excinfo.value)


def test_read_idx_rejects_corrupt_gzip(tmp_path):
    values = np.arange(1000, dtype=np.uint8)
    path = tmp_path / "cut-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(values))[:-20])
    with pytest.raises(ValueError, match="corrupt gzip") as excinfo:
        read_idx(path)
    assert str(path) in str(excinfo.value)


# load_fashion_mnist on tiny files --------------------------------------------


def test_load_bunch(tiny):
    data_home, splits = tiny
    images, labels = splits["train"]
    bunch = load_fashion_mnist(data_home)

    assert set(bunch) == {
        "data",
        "target",
        "images",
        "feature_names",
        "target_names",
        "DESCR",
    }
    assert bunch.data.shape == (5, 6)
    assert bunch.data.dtype == np.float32
    assert_array_equal(bunch.data, images.reshape(5, 6).astype(np.float32) / 255)
    assert_array_equal(bunch.target, labels)
    assert bunch.target.dtype == np.int64
    assert bunch.images.shape == (5, 2, 3)
    assert np.shares_memory(bunch.images, bunch.data)
    assert bunch.feature_names == [f"pixel_{r}_{c}" for r in range(2) for c in range(3)]
    assert list(bunch.target_names) == [
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
    ]
    assert "Fashion-MNIST" in bunch.DESCR


def test_load_test_subset_from_raw_files(tiny):
    data_home, splits = tiny
    X, y = load_fashion_mnist(data_home, subset="test", return_X_y=True)
    images, labels = splits["test"]
    assert_array_equal(X * 255, images.reshape(3, 6))
    assert_array_equal(y, labels)


def test_load_all_is_train_then_test(tiny):
    data_home, splits = tiny
    X, y = load_fashion_mnist(data_home, subset="all", return_X_y=True, scale=False)
    assert X.shape == (8, 6)
    assert_array_equal(X[:5], splits["train"][0].reshape(5, 6))
    assert_array_equal(X[5:], splits["test"][0].reshape(3, 6))
    assert_array_equal(y, np.concatenate([splits["train"][1], splits["test"][1]]))


@pytest.mark.parametrize(
    "dtype, scale, maximum",
    [
        (np.float32, True, 1.0),
        (np.float64, True, 1.0),
        (np.float32, False, 255.0),
        (np.uint8, False, 255),
        ("int16", False, 255),
    ],
)
def test_dtype_and_scale(tmp_path, dtype, scale, maximum):
    # Two 1 x 2 images holding the extreme grey levels 0 and 255.
    images = np.array([[[0, 255]], [[255, 0]]], dtype=np.uint8)
    write(tmp_path / FILES["train"][0], idx_bytes(images), compress=True)
    write(tmp_path / FILES["train"][1], idx_bytes([3, 7]), compress=True)
    X, _ = load_fashion_mnist(tmp_path, return_X_y=True, dtype=dtype, scale=scale)
    assert X.dtype == np.dtype(dtype)
    assert_array_equal(X, [[0, maximum], [maximum, 0]])


def test_data_home_may_be_a_root_with_subdirectory(tiny, tmp_path_factory):
    # Like /usr/share/datasets, which holds fashion-mnist/.
    data_home, _ = tiny
    root = tmp_path_factory.mktemp("root")
    os.symlink(data_home, root / "fashion-mnist")
    X, _ = load_fashion_mnist(root, return_X_y=True)
    assert X.shape == (5, 6)


def test_environment_variable(tiny, monkeypatch):
    data_home, _ = tiny
    monkeypatch.setenv(DATA_HOME_ENV, str(data_home))
    assert load_fashion_mnist(return_X_y=True)[0].shape == (5, 6)


def test_data_home_beats_environment_variable(tiny, monkeypatch, tmp_path_factory):
    data_home, _ = tiny
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path_factory.mktemp("empty")))
    assert load_fashion_mnist(data_home, return_X_y=True)[0].shape == (5, 6)


def test_missing_file_message(tiny):
    data_home, _ = tiny
    os.remove(data_home / (FILES["train"][1] + ".gz"))
    # The test split is complete, so only loads needing train fail.
    load_fashion_mnist(data_home, subset="test")
    for subset in ("train", "all"):
        with pytest.raises(FileNotFoundError) as excinfo:
            load_fashion_mnist(data_home, subset=subset)
        message = str(excinfo.value)
        assert str(data_home / "train-labels-idx1-ubyte.gz") in message
        assert "apt-get install dataset-fashion-mnist" in message
        assert "data_home" in message
        assert DATA_HOME_ENV in message


def test_missing_directory_message(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist") as excinfo:
        load_fashion_mnist(missing)
    assert str(missing / "train-images-idx3-ubyte.gz") in str(excinfo.value)


def test_mismatched_image_and_label_counts(tiny):
    data_home, _ = tiny
    write(data_home / FILES["test"][1], idx_bytes([1, 2]), compress=False)
    with pytest.raises(ValueError, match="holds 3 images but .* holds 2 labels"):
        load_fashion_mnist(data_home, subset="test")


def test_labels_out_of_range(tiny):
    data_home, _ = tiny
    write(data_home / FILES["test"][1], idx_bytes([1, 10, 2]), compress=False)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        load_fashion_mnist(data_home, subset="test")


def test_images_must_be_3d(tiny):
    data_home, _ = tiny
    write(data_home / FILES["test"][0], idx_bytes(np.zeros((3, 6))), compress=False)
    with pytest.raises(ValueError, match="must hold a 3-D array"):
        load_fashion_mnist(data_home, subset="test")


def test_all_needs_one_image_size(tiny):
    data_home, _ = tiny
    images = np.zeros((3, 3, 2), dtype=np.uint8)
    write(data_home / FILES["test"][0], idx_bytes(images), compress=False)
    with pytest.raises(ValueError, match="disagree on the image size"):
        load_fashion_mnist(data_home, subset="all")


def test_corrupt_file_is_named(tiny):
    data_home, _ = tiny
    path = data_home / FILES["test"][0]
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_fashion_mnist(data_home, subset="test")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"subset": "validation"}, "'subset' parameter of load_fashion_mnist"),
        ({"subset": None}, "'subset' parameter of load_fashion_mnist"),
        ({"return_X_y": "yes"}, "'return_X_y' parameter of load_fashion_mnist"),
        ({"scale": 1}, "'scale' parameter of load_fashion_mnist"),
        ({"data_home": 3}, "'data_home' parameter of load_fashion_mnist"),
        ({"dtype": "not-a-dtype"}, "dtype must be a NumPy dtype"),
        ({"dtype": np.complex64}, "integer or floating dtype"),
        ({"dtype": np.uint8}, "needs a floating dtype"),
    ],
)
def test_invalid_parameters(tiny, params, match):
    params = {"data_home": tiny[0], **params}
    with pytest.raises(ValueError, match=match):
        load_fashion_mnist(**params)


# The real files ---------------------------------------------------------------


@pytest.mark.skipif(
    not REAL_DIR.is_dir(),
    reason=f"{REAL_DIR} is absent; apt-get install dataset-fashion-mnist",
)
def test_real_fashion_mnist(monkeypatch):
    # No data_home and no environment variable: the Debian location is the default.
    monkeypatch.delenv(DATA_HOME_ENV, raising=False)
    train = load_fashion_mnist()
    assert train.data.shape == (60000, 784)
    assert train.images.shape == (60000, 28, 28)
    assert train.data.dtype == np.float32
    assert train.data.min() == 0.0 and train.data.max() == 1.0
    assert_array_equal(np.bincount(train.target), np.full(10, 6000))

    X_test, y_test = load_fashion_mnist(REAL_DIR, subset="test", return_X_y=True)
    assert X_test.shape == (10000, 784)
    assert_array_equal(np.unique(y_test), np.arange(10))
    assert_array_equal(np.bincount(y_test), np.full(10, 1000))
