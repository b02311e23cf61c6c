"""twolayer.datasets: IDX parsing, verification, the parsed cache, downloads from a local HTTP
server, real MNIST."""

from __future__ import annotations

import gzip
import re
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from isolation import measured, sanitized
from mnist_files import NAMES, Server, fake_mnist, idx_bytes, listing, write_files

from twolayer import datasets
from twolayer.datasets import cache_dir, load_mnist, read_idx


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A fresh cache directory per test, and a mirror that refuses connections: no test reaches
    ~/.cache or the net."""
    path = tmp_path / "cache"
    monkeypatch.setenv("TWOLAYER_CACHE", str(path))
    monkeypatch.setenv("TWOLAYER_MNIST_URL", "http://127.0.0.1:9/closed/")
    return path


@pytest.fixture
def tiny(monkeypatch):
    """Small random stand-ins for the four MNIST files, gzipped."""
    arrays, payloads = fake_mnist(monkeypatch, train=6, test=3, side=4)
    files = {f"{name}.gz": gzip.compress(payload) for name, payload in payloads.items()}
    return SimpleNamespace(arrays=arrays, files=files)


@pytest.fixture
def serve(monkeypatch):
    """Start a Server and point $TWOLAYER_MNIST_URL at it; stopped at the end of the test."""
    servers = []

    def start(files, declared=None):
        server = Server(files, declared)
        servers.append(server)
        monkeypatch.setenv("TWOLAYER_MNIST_URL", server.url)
        return server

    yield start
    for server in servers:
        server.stop()


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


# --- bounds on hostile files and servers ----------------------------------------------------------

MNIST_TRAIN_IMAGES = datasets._MNIST["train_img"]


def gzip_bomb(shape: tuple[int, ...], zeros: int) -> bytes:
    """A valid gzip file of a uint8 IDX header for `shape` followed by `zeros` zero bytes, about
    zeros / 1000 bytes long: the same fully flushed deflate block repeated, so that it takes no time
    to make beyond the CRC."""
    header = idx_bytes(np.zeros((0,) * len(shape), np.uint8))[:4] + struct.pack(
        f">{len(shape)}I", *shape
    )
    block = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(block) + deflate.flush(
        zlib.Z_FULL_FLUSH
    )  # the same bytes each time, once flushed
    crc = zlib.crc32(header)
    for _ in range(zeros // len(block)):
        crc = zlib.crc32(block, crc)
    trailer = struct.pack("<II", crc, (len(header) + zeros) & 0xFFFFFFFF)
    body = start + repeated * (zeros // len(block)) + deflate.flush()
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + trailer


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """The 3 MB gzip bomb: a plausible header of MNIST's training images, then 3 GiB of zeros."""
    path = tmp_path_factory.mktemp("bomb") / f"{MNIST_TRAIN_IMAGES.name}.gz"
    path.write_bytes(gzip_bomb(MNIST_TRAIN_IMAGES.shape, 3 << 30))
    return path


def test_the_bomb_is_a_real_one(bomb):
    assert 3_000_000 < bomb.stat().st_size < 3_300_000
    with gzip.open(bomb) as f:  # what an unbounded reader would get: 47 MB, then 3 GiB more
        assert f.read(16) == idx_bytes(np.zeros(MNIST_TRAIN_IMAGES.shape, np.uint8))[:16]
        assert f.read(1 << 20) == bytes(1 << 20)


def assert_bounded(outcome: dict, error: str, max_mb: float = 200) -> None:
    """The measured call failed with `error` (a regex), its memory growing by less than `max_mb`."""
    assert outcome["error"] is not None and re.search(error, outcome["error"], re.DOTALL), outcome
    if not sanitized():  # AddressSanitizer's shadow memory and quarantine are no measure of ours
        assert outcome["growth_mb"] < max_mb, outcome


def test_a_downloaded_gzip_bomb_is_refused_at_the_expected_size(bomb, tmp_path, serve):
    server = serve({bomb.name: bomb.read_bytes()})
    outcome = measured(
        f"load_mnist(data_dir={str(tmp_path)!r}, download=True)",
        env={"TWOLAYER_MNIST_URL": server.url, "TWOLAYER_CACHE": ""},
    )
    size = MNIST_TRAIN_IMAGES.payload_size
    assert_bounded(
        outcome,
        f"FileNotFoundError: .*{server.url}/{bomb.name}: .*{size} bytes in all, but the data goes on",
    )
    print(
        f"gzip bomb download refused in {outcome['seconds']:.2f} s, memory +{outcome['growth_mb']:.0f} MB"
    )
    assert listing(tmp_path) == []  # nothing left behind


@pytest.mark.parametrize("reader", ["load_mnist", "read_idx"])
def test_a_local_gzip_bomb_is_refused_at_the_expected_size(bomb, reader):
    size = MNIST_TRAIN_IMAGES.payload_size
    if reader == "load_mnist":
        code, error = (
            f"load_mnist(data_dir={str(bomb.parent)!r}, download=False)",
            f"ValueError: .*{bomb}: .*{size}",
        )
    else:
        code, error = (
            f"read_idx({str(bomb)!r})",
            f"ValueError: {bomb}: .*{size} bytes in all, but the data goes on",
        )
    outcome = measured(code)
    assert_bounded(outcome, error)
    print(
        f"{reader}: local gzip bomb refused in {outcome['seconds']:.2f} s, memory +{outcome['growth_mb']:.0f} MB"
    )


@pytest.mark.parametrize("name", [f"{MNIST_TRAIN_IMAGES.name}.gz", MNIST_TRAIN_IMAGES.name])
def test_a_huge_file_is_refused_without_reading_it(tmp_path, name):
    path = tmp_path / name
    with open(path, "wb") as f:
        f.truncate(10 << 30)  # 10 GiB, sparse: nothing to read but zeros, for ever
    outcome = measured(f"load_mnist(data_dir={str(tmp_path)!r}, download=False)")
    bound = MNIST_TRAIN_IMAGES.max_file_size
    assert_bounded(
        outcome,
        f"ValueError: .*{path} is {10 << 30} bytes, more than any copy of .* \\({bound} bytes",
        50,
    )


def test_read_idx_refuses_a_header_larger_than_the_file_can_hold(tmp_path):
    huge = idx_bytes(np.zeros((0, 0, 0), np.uint8))[:4] + struct.pack(
        ">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1
    )
    for path, data in [
        (tmp_path / "a.idx", huge + bytes(100)),
        (tmp_path / "a.idx.gz", gzip.compress(huge)),
    ]:
        path.write_bytes(data)
        with pytest.raises(
            ValueError,
            match=f"{path}: .* more than the {len(data) * (1032 if path.suffix == '.gz' else 1)} ",
        ):
            read_idx(path)


def endless(start: bytes, then: bytes) -> Callable:
    """A body that is `start`, then `then` over and over until the client hangs up (or the server
    stops)."""

    def body(write, stopped):
        write(start)
        while not stopped.is_set():
            write(then)

    return body


@pytest.mark.parametrize("kind", ["gzip", "plain"])
def test_an_endless_body_is_refused_at_the_cap(tiny, cache, serve, kind):
    spec = datasets._MNIST["train_img"]
    name = f"{spec.name}.gz"
    if kind == "gzip":  # a gzip header whose file name never ends: bytes that never make data
        body, reason = (
            endless(b"\x1f\x8b\x08\x08" + bytes(6), b"x" * 4096),
            f"goes on past {spec.max_file_size} bytes",
        )
    else:  # the right IDX header, then data that never ends
        body, reason = endless(gzip.decompress(tiny.files[name])[:16], bytes(4096)), "goes on past"
    server = serve({**tiny.files, name: body})
    with pytest.raises(FileNotFoundError, match=reason):
        load_mnist()
    assert listing(cache) == []
    assert server.requests == [name]


def test_an_announced_body_larger_than_the_cap_is_refused_before_reading(tiny, cache, serve):
    spec = datasets._MNIST["train_img"]
    name = f"{spec.name}.gz"
    serve(tiny.files, declared={name: spec.max_file_size + 1})
    with pytest.raises(
        FileNotFoundError, match=f"announces {spec.max_file_size + 1} bytes, more than any copy"
    ):
        load_mnist()
    assert listing(cache) == []


def stalling(start: bytes, seconds: float) -> Callable:
    def body(write, stopped):
        write(start)
        stopped.wait(seconds)

    return body


def dripping(data: bytes, every: float) -> Callable:
    def body(write, stopped):
        for i in range(len(data)):
            write(data[i : i + 1])
            if stopped.wait(every):
                return

    return body


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_a_stalled_download_is_given_up_after_the_stall_timeout(
    tiny, cache, serve, monkeypatch, how
):
    name = "train-images-idx3-ubyte.gz"
    serve({**tiny.files, name: stalling(tiny.files[name][:10], seconds=30)})
    if how == "environment":
        monkeypatch.setenv("TWOLAYER_DOWNLOAD_TIMEOUT", "0.3")
    with pytest.raises(
        FileNotFoundError, match=r"no data for 0.3 s \(the stall timeout\), 10 bytes in"
    ):
        load_mnist(download_timeout=0.3 if how == "argument" else None)
    assert listing(cache) == []


def test_a_dripping_download_is_given_up_at_the_deadline(tiny, cache, serve, monkeypatch):
    name = "train-images-idx3-ubyte.gz"
    serve(
        {**tiny.files, name: dripping(tiny.files[name], every=0.05)}
    )  # a byte every 50 ms: never a stall
    monkeypatch.setenv("TWOLAYER_DOWNLOAD_TIMEOUT", "0.3,0.5")
    with pytest.raises(
        FileNotFoundError, match=r"not complete after 0.5 s \(the deadline\), \d+ bytes in"
    ):
        load_mnist()
    assert listing(cache) == []


@pytest.mark.parametrize(
    "value", [0, -1, float("nan"), float("inf"), (1, 2, 3), "5", True, (1, None)]
)
def test_bad_download_timeouts_are_refused(value):
    with pytest.raises(
        ValueError,
        match=f"download_timeout must be a positive number .*got {re.escape(repr(value))}",
    ):
        load_mnist(download_timeout=value)


@pytest.mark.parametrize("value", ["0", "soon", "1,2,3", "nan", ","])
def test_bad_download_timeouts_in_the_environment_are_refused(monkeypatch, value):
    monkeypatch.setenv("TWOLAYER_DOWNLOAD_TIMEOUT", value)
    with pytest.raises(ValueError, match=f"TWOLAYER_DOWNLOAD_TIMEOUT must be .*got '{value}'"):
        load_mnist()


def test_download_timeouts_default_and_pairs(monkeypatch):
    assert datasets._download_timeouts(None) == datasets.DOWNLOAD_TIMEOUT
    assert datasets._download_timeouts(5) == (5, datasets.DOWNLOAD_TIMEOUT[1])
    assert datasets._download_timeouts((5, 7.5)) == (5, 7.5)
    monkeypatch.setenv("TWOLAYER_DOWNLOAD_TIMEOUT", "2,30")
    assert datasets._download_timeouts(None) == (2, 30)
    assert datasets._download_timeouts(4) == (4, datasets.DOWNLOAD_TIMEOUT[1])  # the argument wins


@pytest.mark.parametrize("failure", ["bomb", "endless", "garbage"])
def test_a_good_cached_file_is_never_replaced_by_a_bad_download(tiny, cache, serve, failure):
    """A plain copy that is good, a .gz copy that is damaged: the download that would replace the
    .gz is refused, and both files stay as they were."""
    spec = datasets._MNIST["train_label"]
    damaged = tiny.files[f"{spec.name}.gz"][:-3]
    good = gzip.decompress(tiny.files[f"{spec.name}.gz"])
    write_files(cache, {**tiny.files, f"{spec.name}.gz": damaged})
    bodies = {
        "bomb": gzip_bomb(spec.shape, 1 << 20),
        "endless": endless(good, bytes(4096)),
        "garbage": b"<html>moved</html>",
    }
    serve({f"{spec.name}.gz": bodies[failure]})
    with pytest.raises(FileNotFoundError):
        load_mnist()
    assert (cache / f"{spec.name}.gz").read_bytes() == damaged
    write_files(cache, {spec.name: good})
    (_, t_train), _ = load_mnist()  # the plain copy is used, and nothing is downloaded
    np.testing.assert_array_equal(t_train, tiny.arrays["train_label"])
    assert (cache / f"{spec.name}.gz").read_bytes() == damaged
    assert not [name for name in listing(cache) if name.endswith(".tmp")]


def test_bytes_after_the_gzip_data_are_refused(tmp_path):
    path = tmp_path / "a.idx.gz"
    path.write_bytes(gzip.compress(_GOOD) + b"trailing")
    with pytest.raises(ValueError, match="unexpected bytes after the end of the gzip data"):
        read_idx(path)


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
