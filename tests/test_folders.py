"""The user's folders: output locations checked before any work, a fallback when the final write fails, data folders
read and never written, downloads only where asked (from a local mirror)."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pytest
from folders import full, state, unwritable
from mnist_files import NAMES, Server, fake_mnist, listing, write_files
from pictures import digit_picture

from twolayer import TwoLayerNet, cli
from twolayer.cli import main
from twolayer.inspection import NET_FIGURES

TRAIN = ["train", "--iters", "3", "--batch-size", "2", "--hidden", "3", "--seed", "0"]


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    """A data folder holding small stand-ins for the four MNIST files, gzipped; no mirror reachable."""
    _, payloads = fake_mnist(monkeypatch, train=8, test=4, side=4)
    monkeypatch.setenv("TWOLAYER_MNIST_URL", "http://127.0.0.1:9/closed/")
    files = {f"{name}.gz": gzip.compress(payload, mtime=0) for name, payload in payloads.items()}
    return write_files(tmp_path / "data", files)


@pytest.fixture
def fallback(tmp_path, monkeypatch) -> Path:
    """The system's temporary folder, as twolayer's fallback for results sees it: a fresh one of the test's."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _trained(data: Path, out: Path, *more: str) -> int:
    return main([*TRAIN, "--data-dir", str(data), "--out", str(out), *more])


# --- output folders ---------------------------------------------------------------------------------------------


def test_an_unwritable_out_fails_before_training_naming_it(data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(cli, "load_mnist", lambda **kwargs: pytest.fail("the data was loaded"))
    with unwritable(out):
        assert _trained(data, out) == 2
        assert _trained(data, out / "deeper") == 2  # to be created in an unwritable folder
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0].startswith(f"twolayer: error: argument --out: cannot write in {out}: ")
    assert lines[1].startswith(f"twolayer: error: argument --out: cannot create {out / 'deeper'}: ")
    assert len(lines) == 2 and ".tmp" not in captured.err and captured.out == ""
    assert listing(out) == []


def test_an_out_that_is_a_file_is_a_usage_error(data, tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    assert _trained(data, tmp_path / "taken") == 2
    assert _trained(data, tmp_path / "taken" / "out") == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'taken'} is a file, not a folder" in err
    assert f"{tmp_path / 'taken' / 'out'} cannot be created: {tmp_path / 'taken'} is a file" in err


def test_a_full_disk_keeps_the_results_elsewhere_and_says_where(data, tmp_path, fallback, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with full(out):
        assert _trained(data, out) == 1
        captured = capsys.readouterr()
    kept = [p for p in fallback.iterdir() if p.name.startswith("twolayer-out-")]
    assert len(kept) == 1
    assert sorted(p.name for p in kept[0].iterdir()) == sorted(
        ["accuracy.png", "history.json", "loss.png", "params.npz", *NET_FIGURES]
    )
    assert (
        f"could not write into {out} (" in captured.err
        and "No space left on device" in captured.err
    )
    assert f"the results are in {kept[0]} instead" in captured.err and ".tmp" not in captured.err
    assert f"Wrote {kept[0] / 'history.json'}" in captured.out
    TwoLayerNet.load(kept[0] / "params.npz")


def test_an_out_removed_during_the_run_keeps_the_results_elsewhere(
    data, tmp_path, fallback, capsys, monkeypatch
):
    out = tmp_path / "out"
    real_train = cli.train_checked  # the command's path of settings it checked

    def train_then_remove_out(*args, **kwargs):
        history = real_train(*args, **kwargs)
        out.rmdir()
        out.write_text("")  # a file where the folder was: it cannot be made again either
        return history

    monkeypatch.setattr(cli, "train_checked", train_then_remove_out)
    assert _trained(data, out) == 1
    err = capsys.readouterr().err
    [kept] = fallback.iterdir()
    assert f"the results are in {kept} instead" in err
    assert "history.json" in listing(kept) and "params.npz" in listing(kept)


def test_plot_checks_its_out_first_and_names_it(data, tmp_path, capsys):
    assert _trained(data, tmp_path / "run") == 0
    out = tmp_path / "figures"
    out.mkdir()
    with unwritable(out):
        assert main(["plot", str(tmp_path / "run" / "history.json"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"twolayer: error: argument --out: cannot write in {out}: ")
        and ".tmp" not in err
    )


def test_sweep_checks_its_out_before_any_run(data, tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    with unwritable(out):
        argv = [
            "sweep",
            "--iters",
            "2",
            "--batch-size",
            "2",
            "--hidden",
            "3",
            "--data-dir",
            str(data),
        ]
        assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"twolayer: error: argument --out: cannot write in {out}: ")
        and ".tmp" not in err
    )
    assert listing(out) == []


@pytest.fixture
def picture(tmp_path) -> tuple[Path, Path]:
    """A network for MNIST's inputs and a picture of a digit."""
    params, image = tmp_path / "params.npz", tmp_path / "seven.png"
    TwoLayerNet(784, 10, 10, seed=0).save(params)
    digit_picture(np.eye(28)[::-1].reshape(-1), 100, (150, 150), (20, 20)).save(image)
    return params, image


def test_predict_exit_statuses(picture, tmp_path, capsys):
    params, image = picture
    seen = tmp_path / "seen"
    assert main(["predict", str(params), str(image), "--save-preprocessed", str(seen)]) == 0
    assert listing(seen) == ["seven.png"]

    taken = (
        tmp_path / "taken"
    )  # the picture's file name is taken by a folder: that one write fails, late
    (taken / "seven.png").mkdir(parents=True)
    capsys.readouterr()
    assert main(["predict", str(params), str(image), "--save-preprocessed", str(taken)]) == 1
    out, err = capsys.readouterr()
    assert (
        out.startswith(f"{image}: ")
        and f"twolayer: error: [Errno 21] Is a directory: '{taken / 'seven.png'}'" in err
    )

    locked = tmp_path / "locked"
    locked.mkdir()
    with unwritable(locked):
        assert main(["predict", str(params), str(image), "--save-preprocessed", str(locked)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(
        f"twolayer: error: argument --save-preprocessed: cannot write in {locked}"
    )


# --- data folders ----------------------------------------------------------------------------------------------


def test_data_folders_are_never_written(data, tmp_path, monkeypatch):
    before = state(data)
    assert _trained(data, tmp_path / "a") == 0  # --data-dir
    monkeypatch.setenv("TWOLAYER_DATA", str(data))
    assert main([*TRAIN, "--out", str(tmp_path / "b")]) == 0  # $TWOLAYER_DATA
    assert main(["gradcheck", "--batch", "2", "--hidden", "3"]) == 0
    assert state(data) == before


def test_a_mistyped_data_dir_creates_nothing_and_names_the_closest_folder(
    data, tmp_path, capsys, monkeypatch
):
    server = Server({name: (data / name).read_bytes() for name in listing(data)})
    monkeypatch.setenv(
        "TWOLAYER_MNIST_URL", server.url
    )  # online: still nothing is downloaded into the typo
    try:
        typo = tmp_path / "typo" / "deeper" / "mnsit"
        before = state(tmp_path)
        assert _trained(typo, tmp_path / "out") == 1
        assert state(tmp_path) == before and server.requests == []
    finally:
        server.stop()
    err = capsys.readouterr().err
    assert (
        f"the data folder {typo} does not exist (the closest existing folder is {tmp_path})" in err
    )
    assert "--download" in err


def test_a_relative_typo_names_the_current_folder(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*TRAIN, "--data-dir", "typo/mnsit", "--out", "out"]) == 1
    assert (
        f"the data folder typo/mnsit does not exist (the closest existing folder is {tmp_path})"
        in (capsys.readouterr().err)
    )
    assert not (tmp_path / "typo").exists()


def test_download_into_a_data_dir_only_when_asked(data, tmp_path, capsys, monkeypatch):
    server = Server({name: (data / name).read_bytes() for name in listing(data)})
    monkeypatch.setenv("TWOLAYER_MNIST_URL", server.url)
    try:
        new = tmp_path / "new" / "mnist"
        assert _trained(new, tmp_path / "out", "--download") == 0
    finally:
        server.stop()
    assert sorted(server.requests) == sorted(f"{name}.gz" for name in NAMES)
    assert listing(new) == sorted(
        f"{name}.gz" for name in NAMES
    )  # the files only: no parsed copies


def test_the_offline_message_says_which_folder_is_which(data, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _trained(empty, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert f"in the data folder {empty} (read, never written)" in err and "--download" in err
    cache = tmp_path / "cache"
    monkeypatch.setenv("TWOLAYER_CACHE", str(cache))
    assert main([*TRAIN, "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"in the cache {cache} (where twolayer downloads MNIST)" in err
    assert "$TWOLAYER_DATA (a data folder is only read)" in err
