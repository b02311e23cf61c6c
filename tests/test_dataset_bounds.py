"""twolayer.datasets against hostile files and servers: gzip bombs, huge and lying files, endless,
stalled and dripping downloads; every reader stops at the bound it knows before it reads."""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from isolation import measured, sanitized
from mnist_files import idx_bytes, listing, write_files

from twolayer import datasets
from twolayer.datasets import load_mnist, read_idx

pytestmark = pytest.mark.usefixtures("cache")  # no test reaches ~/.cache or the net


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
