"""TwoLayerNet.save / TwoLayerNet.load: round trips, atomic writes, and clear errors for wrong or damaged files."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

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
    assert (loaded.input_size, loaded.hidden_size, loaded.output_size, loaded.dtype) == (7, 5, 3, dtype)
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
    with pytest.raises(FileNotFoundError, match=f"the directory {tmp_path / 'nowhere'} does not exist"):
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
        (lambda: to_bytes(np.save, np.zeros(3)), "is not a readable npz file: it is a single .npy array"),
        (lambda: to_bytes(np.savez, weights=np.zeros(3)), "is not a TwoLayerNet saved by twolayer: its format is None"),
        (lambda: to_bytes(np.savez, **saved_contents(TwoLayerNet(4, 3, 2)))[:-40], "is not a readable npz file"),
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
        ({"activation": np.str_("tanh")}, "activation is 'tanh', which this version of twolayer does not know"),
        ({"b2": None}, "the parameter b2 is missing"),
        ({"W1": np.zeros((3, 4))}, r"W1 is float64\[3, 4\], expected float64\[4, 3\] for sizes \[4, 3, 2\]"),
        ({"W2": np.zeros((3, 2), np.float32)}, r"W2 is float32\[3, 2\], expected float64\[3, 2\]"),
    ],
    ids=["version", "sizes", "zero-size", "dtype", "no-activation", "activation", "missing", "shape", "param-dtype"],
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
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would give, not mkstemp's private 0o600
