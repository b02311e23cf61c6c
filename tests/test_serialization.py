"""TwoLayerNet.save / TwoLayerNet.load: round trips, atomic writes, and clear errors for wrong or damaged files;
copies and pickles, which go through the same format."""

from __future__ import annotations

import copy
import io
import math
import multiprocessing
import os
import pickle
import re
import struct
import zipfile
import zlib

import numpy as np
import pytest
from isolation import measured, sanitized

import twolayer
from twolayer import TwoLayerNet, serialization


def saved_contents(net: TwoLayerNet, **changes) -> dict:
    """What save writes for `net`, with entries replaced (or removed, for the value None) by `changes`."""
    contents = {
        "format": np.str_(serialization.FORMAT),
        "sizes": np.array([net.input_size, net.hidden_size, net.output_size]),
        "activation": np.str_(net.activation),
        "dtype": np.str_(net.dtype.name),
        **{key: value.copy() for key, value in net.params.items()},
    }
    contents.update(changes)
    return {key: value for key, value in contents.items() if value is not None}


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_round_trip(tmp_path, dtype, activation):
    net = TwoLayerNet(7, 5, 3, weight_init_std=0.5, activation=activation, dtype=dtype, seed=1)
    path = tmp_path / "model"  # saved under exactly this name
    net.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]

    loaded = TwoLayerNet.load(path)
    assert (loaded.input_size, loaded.hidden_size, loaded.output_size, loaded.dtype) == (
        7,
        5,
        3,
        dtype,
    )
    assert loaded.activation == activation
    for key in net.params:
        np.testing.assert_array_equal(loaded.params[key], net.params[key])
    x = np.random.default_rng(2).random((4, 7))
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))

    loaded.params["W1"][...] = 0  # the loaded network owns its parameters
    assert net.params["W1"].any()


def test_files_saved_before_the_activation_was_recorded_load_as_sigmoid(tmp_path):
    net = TwoLayerNet(6, 4, 3, weight_init_std=0.5, seed=2)
    path = tmp_path / "old.npz"
    np.savez(path, **saved_contents(net, format=np.str_("twolayer.TwoLayerNet/1"), activation=None))
    loaded = TwoLayerNet.load(path)
    assert loaded.activation == "sigmoid"
    x = np.random.default_rng(3).random((2, 6))
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))


def test_load_leaves_the_global_random_state_alone(tmp_path):
    path = tmp_path / "net.npz"
    TwoLayerNet(4, 3, 2, seed=0).save(path)
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    TwoLayerNet.load(path)
    assert np.random.random() == expected


def test_save_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    old = TwoLayerNet(4, 3, 2, seed=0)
    old.save(path)
    before = path.read_bytes()

    def fail_midway(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.np, "savez", fail_midway)
    with pytest.raises(KeyboardInterrupt):
        TwoLayerNet(4, 3, 2, seed=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]  # no temporary file left behind


def test_save_into_a_missing_directory(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=f"the directory {tmp_path / 'nowhere'} does not exist"
    ):
        TwoLayerNet(4, 3, 2).save(tmp_path / "nowhere" / "net.npz")


def test_load_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        TwoLayerNet.load(tmp_path / "absent.npz")


def to_bytes(save, *args, **kwargs) -> bytes:
    """What np.save or np.savez writes, as bytes."""
    buffer = io.BytesIO()
    save(buffer, *args, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (lambda: b"hello", "is not a readable npz file"),
        (
            lambda: to_bytes(np.save, np.zeros(3)),
            "is not a readable npz file: it is a single .npy array",
        ),
        (
            lambda: to_bytes(np.savez, weights=np.zeros(3)),
            "is not a TwoLayerNet saved by twolayer: its format is None",
        ),
        (
            lambda: to_bytes(np.savez, **saved_contents(TwoLayerNet(4, 3, 2)))[:-40],
            "is not a readable npz file",
        ),
    ],
    ids=["text", "npy", "other-npz", "truncated"],
)
def test_load_rejects_other_files(tmp_path, contents, message):
    path = tmp_path / "file.npz"
    path.write_bytes(contents())
    with pytest.raises(ValueError, match=message) as info:
        TwoLayerNet.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": np.str_("twolayer.TwoLayerNet/99")}, "its format is 'twolayer.TwoLayerNet/99'"),
        ({"sizes": np.array([4, 3])}, r"damaged header: sizes \[4, 3\]"),
        ({"sizes": np.array([4, 0, 2])}, r"damaged header: sizes \[4, 0, 2\]"),
        ({"dtype": np.str_("int8")}, "damaged header: .* dtype 'int8'"),
        ({"activation": None}, "damaged header: the activation is missing"),
        (
            {"activation": np.str_("tanh")},
            "activation is 'tanh', which this version of twolayer does not know",
        ),
        ({"b2": None}, "the parameter b2 is missing"),
        (
            {"W1": np.zeros((3, 4))},
            r"W1 is float64\[3, 4\], expected float64\[4, 3\] for sizes \[4, 3, 2\]",
        ),
        ({"W2": np.zeros((3, 2), np.float32)}, r"W2 is float32\[3, 2\], expected float64\[3, 2\]"),
    ],
    ids=[
        "version",
        "sizes",
        "zero-size",
        "dtype",
        "no-activation",
        "activation",
        "missing",
        "shape",
        "param-dtype",
    ],
)
def test_load_rejects_inconsistent_contents(tmp_path, changes, message):
    path = tmp_path / "net.npz"
    np.savez(path, **saved_contents(TwoLayerNet(4, 3, 2), **changes))
    with pytest.raises(ValueError, match=message) as info:
        TwoLayerNet.load(path)
    assert str(path) in str(info.value)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saved_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "net.npz"
    TwoLayerNet(4, 3, 2).save(path)
    assert (
        path.stat().st_mode & 0o777 == 0o666 & ~umask
    )  # as open() would give, not mkstemp's private 0o600


def test_round_trip_through_a_file_object(dtype):
    net = TwoLayerNet(6, 4, 3, dtype=dtype, seed=1)
    buffer = io.BytesIO()
    net.save(buffer)
    buffer.seek(0)
    loaded = TwoLayerNet.load(buffer)
    assert loaded.dtype == dtype
    for key in net.params:
        np.testing.assert_array_equal(loaded.params[key], net.params[key])


def test_file_objects_must_be_binary(tmp_path):
    net = TwoLayerNet(6, 4, 3, seed=1)
    binary_mode = pytest.raises(TypeError, match="must be opened in binary mode")
    with open(tmp_path / "net.npz", "w") as text, binary_mode:
        net.save(text)
    with open(tmp_path / "net.npz") as text, binary_mode:
        TwoLayerNet.load(text)


def test_a_damaged_file_object_is_named(tmp_path):
    with pytest.raises(ValueError, match="the BytesIO is not a readable npz file"):
        TwoLayerNet.load(io.BytesIO(b"PK\x03\x04 not really"))
    path = tmp_path / "junk.npz"
    path.write_bytes(b"junk")
    with (
        open(path, "rb") as file,
        pytest.raises(ValueError, match=f"{path} is not a readable npz file"),
    ):
        TwoLayerNet.load(file)


# --- bounds: nothing is read or allocated before the header and the zip directory agree -----------


def npy_header(shape: tuple[int, ...], dtype=np.float64) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def zip_bytes(
    entries: list[tuple[str, bytes, int, int]], stored: dict[str, int] | None = None
) -> bytes:
    """A zip file of (name, data, method, declared uncompressed size) entries, its directory saying
    what it is told: the size stored is the data's, or stored[name]. Stored entries get the CRC-32
    of their data; deflated ones 0, as they are refused before it is checked."""
    local, central = b"", b""
    for name, data, method, size in entries:
        crc = zlib.crc32(data) if method == zipfile.ZIP_STORED else 0
        fields = (
            method,
            0,
            0,
            crc,
            (stored or {}).get(name, len(data)),
            size,
            len(name.encode()),
            0,
        )
        central += (
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0, len(local))
            + name.encode()
        )
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, *fields) + name.encode() + data
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(local), 0
    )
    return local + central + end


def header_entries(sizes=(4, 3, 2)) -> list[tuple[str, bytes, int, int]]:
    arrays = {
        "format": np.str_(serialization.FORMAT),
        "sizes": np.array(sizes),
        "dtype": np.str_("float64"),
        "activation": np.str_("sigmoid"),
    }
    return [
        (f"{k}.npy", to_bytes(np.save, v), zipfile.ZIP_STORED, len(to_bytes(np.save, v)))
        for k, v in arrays.items()
    ]


def deflated_zeros(prefix: bytes, zeros: int) -> bytes:
    """Raw deflate data of `prefix` then `zeros` zero bytes, about zeros / 1000 bytes: one flushed
    block, repeated."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1 << 20)
    start = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    return start + repeated * (zeros // len(block)) + deflate.flush()


def hostile_npz(kind: str) -> bytes:
    w1 = npy_header((4, 3))
    params = [(f"{k}.npy", npy_header(s) + bytes(8 * math.prod(s)), 0, len(npy_header(s)) + 8 * math.prod(s))
              for k, s in [("b1", (3,)), ("W2", (3, 2)), ("b2", (2,))]]  # fmt: skip
    if kind == "member-expands-to-4GB":
        bomb = deflated_zeros(w1, 4_000_000_000)
        return zip_bytes(
            [*header_entries(), ("W1.npy", bomb, zipfile.ZIP_DEFLATED, 4_000_000_000), *params]
        )
    if kind == "directory-declares-4GB":
        return zip_bytes(
            [
                *header_entries(),
                ("W1.npy", w1 + bytes(96), zipfile.ZIP_STORED, 4_000_000_000),
                *params,
            ]
        )
    if kind == "header-claims-1e9-inputs":
        w1 = npy_header((10**9, 3))
        return zip_bytes(
            [*header_entries((10**9, 3, 2)), ("W1.npy", w1 + bytes(96), 0, len(w1) + 96), *params]
        )
    if kind in ("directory-claims-data-it-lacks", "members-claim-more-than-the-file"):
        # Each parameter's .npy header for a 20000-20000-1 network, without its 3.2 GB of data.
        sizes = (20_000, 20_000, 1)
        shapes = {"W1": sizes[:2], "b1": sizes[1:2], "W2": sizes[1:], "b2": sizes[2:]}
        entries = [(f"{k}.npy", npy_header(s), 0, len(npy_header(s)) + 8 * math.prod(s))
                   for k, s in shapes.items()]  # fmt: skip
        claimed = (
            {e[0]: e[3] for e in entries} if kind == "members-claim-more-than-the-file" else {}
        )
        return zip_bytes([*header_entries(sizes), *entries], claimed)
    assert kind == "huge-header-member"
    sizes = npy_header((10**8,), np.int64)
    return zip_bytes(
        [*header_entries()[::2], ("sizes.npy", sizes, zipfile.ZIP_STORED, 8 * 10**8 + len(sizes))]
    )


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (
            "member-expands-to-4GB",
            "W1.npy is compressed; a TwoLayerNet file stores its arrays as they are",
        ),
        (
            "directory-declares-4GB",
            "W1.npy is 4000000000 bytes in the zip directory, but 224 stored",
        ),
        (
            "header-claims-1e9-inputs",
            "W1.npy is 224 bytes in the zip directory, expected 24000000128",
        ),
        ("huge-header-member", "damaged header: sizes is 800000128 bytes, more than 4096"),
        (
            "directory-claims-data-it-lacks",
            "W1.npy is 3200000128 bytes in the zip directory, but 128 stored",
        ),
        (
            "members-claim-more-than-the-file",
            r"its members are 3200\d{6} bytes in the zip directory, more than the file's \d+",
        ),
    ],
)
def test_load_refuses_what_the_header_does_not_imply_before_reading_it(tmp_path, kind, message):
    path = tmp_path / "net.npz"
    path.write_bytes(hostile_npz(kind))
    outcome = measured(f"TwoLayerNet.load({str(path)!r})")
    assert re.fullmatch(f"ValueError: {path}: {message}.*", outcome["error"] or ""), outcome
    if not sanitized():
        assert outcome["growth_mb"] < 200, outcome
    print(f"{kind}: refused in {outcome['seconds']:.3f} s, memory +{outcome['growth_mb']:.0f} MB")


def test_load_refuses_a_zip_directory_larger_than_any_net_file_has(tmp_path):
    path = tmp_path / "net.npz"
    entries = header_entries() + [
        (f"x{i:07}.npy", b"", zipfile.ZIP_STORED, 0) for i in range(30000)
    ]
    path.write_bytes(zip_bytes(entries))
    with pytest.raises(
        ValueError, match=f"{path} is not a readable npz file: its zip directory .* larger than"
    ):
        TwoLayerNet.load(path)


def test_load_reads_fortran_ordered_arrays(tmp_path):
    net = TwoLayerNet(4, 3, 2, seed=0)
    path = tmp_path / "net.npz"
    np.savez(path, **saved_contents(net, W1=np.asfortranarray(net.params["W1"])))
    np.testing.assert_array_equal(TwoLayerNet.load(path).params["W1"], net.params["W1"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"extra": np.zeros(3)}, "damaged: it also holds extra.npy"),
    ],
    ids=["extra-member"],
)
def test_load_refuses_unknown_contents(tmp_path, changes, message):
    path = tmp_path / "net.npz"
    np.savez(path, **saved_contents(TwoLayerNet(4, 3, 2), **changes))
    with pytest.raises(ValueError, match=f"{path}: {message}"):
        TwoLayerNet.load(path)


def test_load_refuses_compressed_files(tmp_path):
    path = tmp_path / "net.npz"
    np.savez_compressed(path, **saved_contents(TwoLayerNet(4, 3, 2)))
    with pytest.raises(
        ValueError, match="is compressed; a TwoLayerNet file stores its arrays as they are"
    ):
        TwoLayerNet.load(path)


# --- Copies and pickles: through the save format -------------------------------------------------


def _copies(net):
    """The three ways to copy a network: pickle, copy.deepcopy and copy.copy."""
    return {
        "pickle": pickle.loads(pickle.dumps(net)),
        "deepcopy": copy.deepcopy(net),
        "copy": copy.copy(net),
    }


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_copies_are_equal_and_independent(dtype, activation):
    net = TwoLayerNet(6, 4, 3, dtype=dtype, seed=1, activation=activation)
    x = np.random.default_rng(2).random((5, 6))
    for how, twin in _copies(net).items():
        assert (
            type(twin) is TwoLayerNet and twin.dtype == dtype and twin.activation == activation
        ), how
        assert (twin.input_size, twin.hidden_size, twin.output_size) == (6, 4, 3), how
        for key in net.params:
            np.testing.assert_array_equal(twin.params[key], net.params[key], err_msg=how)
            assert not np.shares_memory(twin.params[key], net.params[key]), how
        np.testing.assert_array_equal(twin.predict(x), net.predict(x), err_msg=how)
        twin.params["W1"] += (
            1  # changing the copy changes not the original, and the copy's views are its own
        )
        assert not np.array_equal(twin.params["W1"], net.params["W1"]), how
        np.testing.assert_array_equal(twin.predict(x), twin._core.predict(x), err_msg=how)
        assert not np.array_equal(twin.predict(x), net.predict(x)), how


def _predict_in_child(pickled: bytes, x: np.ndarray) -> np.ndarray:
    return pickle.loads(pickled).predict(x)


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_pickled_net_predicts_the_same_in_another_process(start_method, dtype):
    net = TwoLayerNet(6, 4, 3, dtype=dtype, seed=1)
    x = np.random.default_rng(2).random((5, 6))
    with multiprocessing.get_context(start_method).Pool(1) as pool:
        in_child = pool.apply(_predict_in_child, (pickle.dumps(net), x))
    np.testing.assert_array_equal(in_child, net.predict(x))


def test_damaged_pickles_are_clear_errors():
    pickled = pickle.dumps(TwoLayerNet(6, 4, 3, seed=1))
    saved = io.BytesIO()
    TwoLayerNet(6, 4, 3, seed=1).save(saved)
    damaged = pickled.replace(saved.getvalue()[-40:], bytes(40))
    with pytest.raises(
        ValueError, match="cannot unpickle a TwoLayerNet .damaged, or pickled by another version"
    ):
        pickle.loads(damaged)
    with pytest.raises(
        ValueError, match="format is 'twolayer.TwoLayerNet/9', expected 'twolayer.TwoLayerNet/2'"
    ):
        pickle.loads(pickle.dumps(_PickledByANewerVersion()))


class _PickledByANewerVersion:
    """Pickles as a TwoLayerNet would, whose save format is a newer one."""

    def __reduce__(self):
        saved = io.BytesIO()
        np.savez(saved, format=np.str_("twolayer.TwoLayerNet/9"))
        return (twolayer.net._from_saved, (TwoLayerNet, saved.getvalue()))
