"""Files: whatever fails in the middle of a write (Ctrl-C, a full disk, a failed rename), no partial
file is left behind and an existing file stays as it was; and whatever byte of a file is damaged
or cut off, reading it is an error that names the file, never a silently different result.

The writers: TwoLayerNet.save, History.to_json, the figures, and the MNIST loader (downloads and
its parsed .npy copies). The readers: TwoLayerNet.load and load_mnist (IDX files, gzipped or not,
and the .npy copies).
"""

from __future__ import annotations

import errno
import gzip
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from mnist_files import Server, fake_mnist, listing, write_files

from twolayer import TwoLayerNet
from twolayer.datasets import load_mnist
from twolayer.plotting import plot_loss
from twolayer.training import History

# --- Failing in the middle of a write ------------------------------------------------------------


def _history() -> History:
    return History(
        iters_num=3,
        batch_size=2,
        learning_rate=0.1,
        gradient="backprop",
        seed=0,
        input_size=4,
        hidden_size=3,
        output_size=2,
        dtype="float64",
        train_size=6,
        test_size=2,
        iter_per_epoch=3.0,
        train_loss_list=[0.7, 0.6, float("nan")],
        train_acc_list=[0.5],
        test_acc_list=[0.5],
        epoch_iters=[0],
        epoch_times=[0.01],
    )


def _figure(path: Path) -> None:
    plot_loss([0.7, 0.6, 0.5], path)


WRITERS: dict[str, Callable[[Path], Any]] = {
    "TwoLayerNet.save": lambda path: TwoLayerNet(4, 3, 2, seed=0).save(path),
    "History.to_json": lambda path: _history().to_json(path),
    "plot_loss": _figure,
}


class _FailingFile:
    """A file that accepts `budget` bytes, writes part of the next chunk, then raises `error`."""

    def __init__(self, file: Any, budget: int, error: BaseException) -> None:
        self._file, self._budget, self._error = file, budget, error

    def write(self, data: Any) -> int:
        data = bytes(data)
        if len(data) > self._budget:
            self._file.write(data[: self._budget])
            raise self._error
        self._budget -= len(data)
        return self._file.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._file.close()


def _sabotage(monkeypatch: pytest.MonkeyPatch, point: str, error: BaseException) -> None:
    """Make the next atomic write fail at `point` with `error`."""
    if point == "mid-write":
        fdopen = os.fdopen
        monkeypatch.setattr(
            os, "fdopen", lambda fd, *a, **k: _FailingFile(fdopen(fd, *a, **k), 40, error)
        )
    elif point == "fsync":
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(error))
    else:  # the final rename
        monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(error))


ERRORS = {
    "ctrl-c": KeyboardInterrupt(),
    "disk-full": OSError(errno.ENOSPC, "No space left on device"),
}


def _cases() -> list:
    cases = [
        pytest.param(
            writer,
            error,
            point,
            existing,
            id=f"{writer}-{error}-{point}-{'replacing' if existing else 'new'}",
        )
        for writer in WRITERS
        for error in ERRORS
        for point in ("mid-write", "fsync", "rename")
        for existing in (False, True)
    ]
    # Drawing a figure takes a while: two cases cover it.
    keep = {"plot_loss-ctrl-c-mid-write-replacing", "plot_loss-disk-full-rename-new"}
    return [c for c in cases if not c.id.startswith("plot_loss") or c.id in keep]


@pytest.mark.parametrize(("writer", "error", "point", "existing"), _cases())
def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch, writer, error, point, existing):
    path = tmp_path / "output"
    if existing:
        path.write_bytes(b"the previous contents")
    with monkeypatch.context() as patch:
        _sabotage(patch, point, ERRORS[error])
        with pytest.raises(type(ERRORS[error])):
            WRITERS[writer](path)
    assert listing(tmp_path) == (["output"] if existing else [])  # no temporary file either
    if existing:
        assert path.read_bytes() == b"the previous contents"
    WRITERS[writer](path)  # and the next write succeeds
    assert listing(tmp_path) == ["output"]


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """Small stand-ins for the four MNIST files (not gzipped), a cache directory of their own, and no network."""
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TWOLAYER_MNIST_URL", "http://127.0.0.1:9/closed/")
    return fake_mnist(monkeypatch, train=3, test=2, side=2)


def _loaded(**kwargs: Any) -> list[np.ndarray]:
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=False, flatten=False, **kwargs)
    return [x_train[:, 0], t_train, x_test[:, 0], t_test]


def _expected(arrays: dict) -> list[np.ndarray]:
    return [arrays[k] for k in ("train_img", "train_label", "test_img", "test_label")]


@pytest.mark.parametrize("error", ERRORS)
def test_failed_cache_write_leaves_no_partial_npy(tiny, tmp_path, monkeypatch, error):
    """The loader keeps parsed .npy copies in its cache: a failure while writing one leaves none
    (a full disk is skipped over, Ctrl-C goes through), and the next load is right."""
    arrays, files = tiny
    cache = write_files(
        tmp_path / "cache", {f"{name}.gz": gzip.compress(data) for name, data in files.items()}
    )
    with monkeypatch.context() as patch:
        _sabotage(patch, "mid-write", ERRORS[error])
        if error == "ctrl-c":
            with pytest.raises(KeyboardInterrupt):
                _loaded(download=False)
        else:
            for got, expected in zip(_loaded(download=False), _expected(arrays)):
                np.testing.assert_array_equal(got, expected)
    assert not [name for name in listing(cache) if not name.endswith(".gz")]
    for got, expected in zip(_loaded(download=False), _expected(arrays)):
        np.testing.assert_array_equal(got, expected)
    assert len(listing(cache)) == 8  # now with the four .npy copies


@pytest.mark.parametrize("error", ERRORS)
def test_failed_download_write_leaves_no_partial_file(tiny, tmp_path, monkeypatch, error):
    arrays, files = tiny
    server = Server({f"{name}.gz": gzip.compress(data) for name, data in files.items()})
    monkeypatch.setenv("TWOLAYER_MNIST_URL", server.url)
    cache = tmp_path / "cache"
    try:
        with monkeypatch.context() as patch:
            _sabotage(patch, "mid-write", ERRORS[error])
            with pytest.raises(type(ERRORS[error])):
                _loaded()
        assert listing(cache) == []
        for got, expected in zip(_loaded(), _expected(arrays)):
            np.testing.assert_array_equal(got, expected)
    finally:
        server.stop()


# --- Every damaged byte is detected ----------------------------------------------------------------


def _damaged(raw: bytes, every: int = 1) -> Any:
    """A change of every byte (of its lowest bit, its highest or all bits, in turn), and the file
    cut off after every `every`-th byte and in its last 32 (where a zip keeps its directory)."""
    for i in range(len(raw)):
        mask = (0x01, 0x80, 0xFF)[i % 3]
        yield f"byte {i} ^ {mask:#04x}", raw[:i] + bytes([raw[i] ^ mask]) + raw[i + 1 :]
    for n in sorted(set(range(0, len(raw), every)) | set(range(max(0, len(raw) - 32), len(raw)))):
        yield f"first {n} bytes", raw[:n]


def test_every_damaged_byte_of_a_saved_net_is_detected(tmp_path):
    """A damaged file is a ValueError naming it, or (for bytes nothing reads, such as zip
    timestamps) the same network; never a different one, and never another kind of error."""
    net = TwoLayerNet(3, 2, 2, weight_init_std=0.5, seed=0)
    path = tmp_path / "net.npz"
    net.save(path)
    raw, damaged_path = path.read_bytes(), tmp_path / "damaged.npz"
    unnoticed = 0
    for what, data in _damaged(raw, every=16):
        damaged_path.write_bytes(data)
        try:
            loaded = TwoLayerNet.load(damaged_path)
        except ValueError as exc:
            assert str(damaged_path) in str(exc), what
            continue
        unnoticed += 1
        assert loaded.dtype == net.dtype, what
        for key in net.params:
            np.testing.assert_array_equal(loaded.params[key], net.params[key], err_msg=what)
    assert unnoticed < len(raw) // 3  # most bytes are read, and checked by the zip's CRC-32s


@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "plain"])
def test_every_damaged_byte_of_an_mnist_file_is_detected(tiny, tmp_path, compressed):
    """Each IDX file is checked against the SHA-256 of its contents: a damaged one is a ValueError
    naming it (with download=False), or, for gzip header bytes outside the data, the same
    arrays."""
    arrays, files = tiny
    suffix = ".gz" if compressed else ""
    data_dir = tmp_path / "data"
    originals = {
        name + suffix: gzip.compress(data, mtime=0) if compressed else data
        for name, data in files.items()
    }
    for name, raw in originals.items():
        for what, data in _damaged(raw):
            write_files(data_dir, {**originals, name: data})
            try:
                got = _loaded(data_dir=data_dir, download=False)
            except ValueError as exc:
                assert str(data_dir / name) in str(exc), f"{name}: {what}"
                continue
            for array, expected in zip(got, _expected(arrays)):
                np.testing.assert_array_equal(array, expected, err_msg=f"{name}: {what}")


def test_every_damaged_byte_of_a_cached_npy_is_noticed(tiny, tmp_path):
    """The parsed .npy copies are re-checked against the digests: a damaged one is ignored and
    rebuilt from the IDX file, so the arrays are always right."""
    arrays, files = tiny
    cache = write_files(tmp_path / "cache", files)
    _loaded(download=False)  # writes the .npy copies
    npy = cache / "train-labels-idx1-ubyte.npy"
    raw = npy.read_bytes()
    for what, data in _damaged(raw):
        npy.write_bytes(data)
        for array, expected in zip(_loaded(download=False), _expected(arrays)):
            np.testing.assert_array_equal(array, expected, err_msg=what)
