"""twolayer.datasets: IDX parsing, verification, the parsed cache, downloads from a local HTTP
server, real MNIST."""

from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from mnist_files import NAMES, idx_bytes, listing, write_files

from twolayer import datasets
from twolayer.datasets import cache_dir, load_mnist, read_idx

pytestmark = pytest.mark.usefixtures("cache")  # no test reaches ~/.cache or the net

# --- IDX parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([[-1, 2**31 - 1], [7, -(2**31)]], dtype=">i4"),
        np.array([0.5, -1e300, np.inf]).astype(">f8"),
    ],
    ids=["uint8", "int32", "float64"],
)
def test_read_idx_round_trip(tmp_path, array, compress):
    data = idx_bytes(array)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    result = read_idx(path)
    assert result.dtype.isnative and result.dtype == array.dtype.newbyteorder("=")
    assert result.flags.writeable
    np.testing.assert_array_equal(result, array)


_GOOD = idx_bytes(np.zeros((2, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "not an IDX file"),
        (b"\x01\x00" + _GOOD[2:], "not an IDX file"),
        (b"\x00\x00\x07" + _GOOD[3:], "not an IDX file"),  # no such type code
        (_GOOD[:9], "truncated IDX header"),
        (
            b"\x00\x00\x08\x03" + struct.pack(">3I", 0, 2**32 - 1, 2**32 - 1),
            r"gives shape \(0, 4294967295, 4294967295\), too large",
        ),
        (
            _GOOD[:-1],
            r"shape \(2, 3\) of uint8, 18 bytes in all, more than the 17 this file can hold",
        ),
        (
            _GOOD + b"\x00",
            r"shape \(2, 3\) of uint8, 18 bytes in all, but the data goes on past them",
        ),
    ],
    ids=["empty", "magic", "type-code", "header", "zero-and-huge", "short", "long"],
)
def test_read_idx_rejects_malformed(tmp_path, payload, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_read_idx_rejects_damaged_gzip(tmp_path, damage):
    data = gzip.compress(
        idx_bytes(np.random.default_rng(1).integers(0, 256, (50, 50), dtype=np.uint8))
    )
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
    path = tmp_path / "bad.idx.gz"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="damaged or truncated gzip data") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_bytes_after_the_gzip_data_are_refused(tmp_path):
    path = tmp_path / "a.idx.gz"
    path.write_bytes(gzip.compress(_GOOD) + b"trailing")
    with pytest.raises(ValueError, match="unexpected bytes after the end of the gzip data"):
        read_idx(path)


# --- load_mnist on small files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("normalize", "flatten", "one_hot"),
    [(True, True, False), (False, False, True), (True, False, True)],
)
def test_load_mnist_formats(tmp_path, tiny, normalize, flatten, one_hot):
    data_dir = write_files(tmp_path / "data", tiny.files)
    (x_train, t_train), (x_test, t_test) = load_mnist(
        normalize, flatten, one_hot, data_dir=data_dir, download=False
    )
    for x, t, img, lab in [
        (x_train, t_train, "train_img", "train_label"),
        (x_test, t_test, "test_img", "test_label"),
    ]:
        images, labels = tiny.arrays[img], tiny.arrays[lab]
        n = len(images)
        assert x.shape == ((n, 16) if flatten else (n, 1, 4, 4))
        if normalize:
            assert x.dtype == np.float32
            np.testing.assert_allclose(x.reshape(images.shape), images / 255, rtol=1e-7)
        else:
            assert x.dtype == np.uint8
            np.testing.assert_array_equal(x.reshape(images.shape), images)
        if one_hot:
            assert t.shape == (n, 10) and t.dtype == np.float32
            np.testing.assert_array_equal(t, np.eye(10)[labels])
        else:
            assert t.dtype == np.uint8
            np.testing.assert_array_equal(t, labels)


def test_load_mnist_reads_uncompressed_files(tmp_path, tiny):
    data_dir = write_files(
        tmp_path / "data", {n[:-3]: gzip.decompress(d) for n, d in tiny.files.items()}
    )
    (_, t_train), _ = load_mnist(data_dir=data_dir, download=False)
    np.testing.assert_array_equal(t_train, tiny.arrays["train_label"])


def test_load_mnist_rejects_a_file_with_the_wrong_checksum(tmp_path, tiny):
    altered = tiny.arrays["test_img"].copy()
    altered[0, 0, 0] ^= 1  # same size and header, one bit off
    data_dir = write_files(
        tmp_path / "data",
        {**tiny.files, "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(altered))},
    )
    with pytest.raises(
        ValueError, match="SHA-256 of the uncompressed data is [0-9a-f]{64}, expected"
    ) as info:
        load_mnist(data_dir=data_dir, download=False)
    message = str(info.value)
    assert str(data_dir / "t10k-images-idx3-ubyte.gz") in message and "download=True" in message


def test_load_mnist_rejects_the_wrong_file(tmp_path, tiny):
    swapped = {**tiny.files, "train-images-idx3-ubyte.gz": tiny.files["train-labels-idx1-ubyte.gz"]}
    with pytest.raises(ValueError, match=r"expected an IDX array of shape \(6, 4, 4\), got \(6,\)"):
        load_mnist(data_dir=write_files(tmp_path / "data", swapped), download=False)


def test_load_mnist_missing_files_names_the_directory_and_files(tmp_path):
    data_dir = tmp_path / "empty"
    data_dir.mkdir()
    for download in (
        False,
        None,
    ):  # None: a data folder of the user's gets no downloads unless asked
        with pytest.raises(FileNotFoundError) as info:
            load_mnist(data_dir=data_dir, download=download)
        message = str(info.value)
        assert str(data_dir) in message and all(name in message for name in NAMES)
        assert "the data folder" in message and "never written" in message
    assert listing(data_dir) == []


def test_load_mnist_rejects_a_file_as_data_dir(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(NotADirectoryError, match="is a file, not a directory for the MNIST files"):
        load_mnist(data_dir=path)


def test_parsed_copies_are_kept_in_the_cache_and_verified(tiny, cache):
    write_files(cache, tiny.files)
    first = load_mnist(normalize=False, download=False)
    assert listing(cache) == sorted([*tiny.files, *(f"{name}.npy" for name in NAMES)])

    # The .npy files alone are enough ...
    for name in tiny.files:
        (cache / name).unlink()
    second = load_mnist(normalize=False, download=False)
    np.testing.assert_array_equal(second[0][0], first[0][0])

    # ... but a damaged or altered one is noticed, ignored and rewritten.
    write_files(cache, tiny.files)
    altered = tiny.arrays["train_img"].copy()
    altered[1, 2, 3] ^= 0x80
    np.save(cache / "train-images-idx3-ubyte.npy", altered)
    (cache / "t10k-labels-idx1-ubyte.npy").write_bytes(b"\x93NUMPY junk")
    (x_train, _), (_, t_test) = load_mnist(normalize=False, flatten=False, download=False)
    np.testing.assert_array_equal(x_train[:, 0], tiny.arrays["train_img"])
    np.testing.assert_array_equal(t_test, tiny.arrays["test_label"])
    np.testing.assert_array_equal(
        np.load(cache / "train-images-idx3-ubyte.npy"), tiny.arrays["train_img"]
    )


def test_nothing_is_written_into_a_data_dir(tmp_path, tiny, cache):
    data_dir = write_files(tmp_path / "data", tiny.files)
    load_mnist(data_dir=data_dir, download=False)
    assert listing(data_dir) == sorted(tiny.files)
    assert listing(cache) == []


def test_unwritable_cache_is_skipped(tiny, cache, monkeypatch):
    write_files(cache, tiny.files)

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(datasets, "atomic_write", refuse)
    (_, t_train), _ = load_mnist(download=False)
    np.testing.assert_array_equal(t_train, tiny.arrays["train_label"])
    assert listing(cache) == sorted(tiny.files)


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"
    monkeypatch.delenv("TWOLAYER_CACHE")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir() == tmp_path / "xdg" / "twolayer"


# --- downloads ------------------------------------------------------------------------------------


def test_download_verifies_then_works_offline(mnist_dir, cache, serve):
    server = serve({p.name: p.read_bytes() for p in Path(mnist_dir).glob("*.gz")})
    first = load_mnist(normalize=False)
    assert sorted(server.requests) == sorted(f"{name}.gz" for name in NAMES)
    assert listing(cache) == sorted(
        [f"{name}.gz" for name in NAMES] + [f"{name}.npy" for name in NAMES]
    )

    server.stop()
    for npy in cache.glob("*.npy"):
        npy.unlink()  # make the second load read the downloaded files themselves
    second = load_mnist(normalize=False)
    for a, b in zip(first[0] + first[1], second[0] + second[1]):
        np.testing.assert_array_equal(a, b)


def test_corrupt_cached_file_is_reported_then_replaced(tiny, cache, serve):
    name = "train-labels-idx1-ubyte.gz"
    write_files(
        cache, {**tiny.files, name: tiny.files[name][:-5]}
    )  # truncated, as by an interrupted copy
    with pytest.raises(ValueError, match="damaged or truncated gzip data") as info:
        load_mnist(download=False)
    assert str(cache / name) in str(info.value)

    server = serve(tiny.files)
    (_, t_train), _ = load_mnist()
    np.testing.assert_array_equal(t_train, tiny.arrays["train_label"])
    assert server.requests == [name]
    assert (cache / name).read_bytes() == tiny.files[name]


@pytest.mark.parametrize("failure", ["404", "garbage", "truncated", "cut-off"])
def test_failed_download_is_clear_and_leaves_nothing(tiny, cache, serve, failure):
    name = "train-images-idx3-ubyte.gz"
    body = tiny.files[name]
    if failure == "404":
        server = serve({})
        reason = "404"
    elif failure == "garbage":
        server = serve({name: b"<html>Service unavailable</html>"})
        reason = "not an IDX file"
    elif failure == "truncated":
        server = serve({name: body[:-5]})
        reason = "damaged or truncated gzip data"
    else:
        server = serve({name: body[:-5]}, declared={name: len(body)})
        reason = f"after {len(body) - 5} of {len(body)} bytes"
    with pytest.raises(FileNotFoundError, match=reason) as info:
        load_mnist()
    message = str(info.value)
    assert (
        f"{server.url}/{name}" in message
        and str(cache) in message
        and all(n in message for n in NAMES)
    )
    assert listing(cache) == []


# --- real MNIST -----------------------------------------------------------------------------------


def test_real_mnist(mnist_dir, cache):
    before = listing(Path(mnist_dir))
    (x_train, t_train), (x_test, t_test) = load_mnist(
        normalize=False, data_dir=mnist_dir, download=False
    )
    assert listing(Path(mnist_dir)) == before  # the shared copy is read, never written
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == x_test.dtype == t_train.dtype == t_test.dtype == np.uint8
    assert x_train.max() == 255 and x_train.min() == 0
    # The well-known class counts of MNIST.
    assert np.bincount(t_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(t_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

    # The book's other formats.
    (x2, t2), (x2_test, _) = load_mnist(
        flatten=False, one_hot_label=True, data_dir=mnist_dir, download=False
    )
    assert (
        x2.shape == (60000, 1, 28, 28)
        and x2.dtype == np.float32
        and x2_test.shape == (10000, 1, 28, 28)
    )
    assert x2.min() >= 0 and x2.max() == 1
    assert np.array_equal(
        x2.reshape(60000, 784), x_train / np.float32(255)
    )  # the book's x.astype(float32) / 255
    assert (
        t2.shape == (60000, 10)
        and (t2.sum(axis=1) == 1).all()
        and (t2.argmax(axis=1) == t_train).all()
    )
