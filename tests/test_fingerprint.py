"""The hash that keys the prediction cache is XXH64."""

import numpy as np
import pytest

from sklearn_bsp._kernels import fingerprint

pytestmark = pytest.mark.skipif(fingerprint is None, reason="kernels not built")

# Values of the reference implementation (python-xxhash 3, xxh64_intdigest).
VECTORS = [
    (b"", 0, 0xEF46DB3751D8E999),
    (b"", 1, 0xD5AFBA1336A3BE4B),
    (b"a", 0, 0xD24EC4F1A98C6E5B),
    (b"abc", 0, 0x44BC2CF5AD770999),
    (b"abc", 1, 0xBEA9CA8199328908),
    # 771 bytes: 24 stripes of 32, then 8-, 4- and 1-byte tails.
    (bytes(range(256)) * 3 + b"xyz", 0, 0xE921A1B45BD779F8),
    (bytes(range(256)) * 3 + b"xyz", 1, 0x0616ED66BE1BD5BB),
]


@pytest.mark.parametrize("data, seed, expected", VECTORS)
def test_xxh64_gives_the_reference_values(data, seed, expected):
    assert fingerprint.xxh64(data, seed) == expected


def test_xxh64_reads_arrays_of_any_writeability():
    a = np.random.default_rng(0).standard_normal((7, 5))
    digest = fingerprint.xxh64(a.reshape(-1).view(np.uint8))
    assert digest == fingerprint.xxh64(a.tobytes())
    a.flags.writeable = False
    assert fingerprint.xxh64(a.reshape(-1).view(np.uint8)) == digest


def test_every_single_change_changes_the_hash():
    a = np.zeros(40)
    base = fingerprint.xxh64(a.tobytes())
    digests = {base}
    for i in range(a.size):
        for value in (-0.0, 1e-300, np.nextafter(0, 1)):
            b = a.copy()
            b[i] = value
            digests.add(fingerprint.xxh64(b.tobytes()))
    assert len(digests) == 1 + 3 * a.size


def test_xxh64_rejects_what_is_not_bytes():
    with pytest.raises((TypeError, ValueError)):
        fingerprint.xxh64(np.zeros(4))
    with pytest.raises((TypeError, ValueError)):
        fingerprint.xxh64(np.zeros((4, 4), dtype=np.uint8)[:, ::2].reshape(-1)[::2])
