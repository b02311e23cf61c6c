"""``twolayer train``'s checkpoints: ``--checkpoint-every N`` and ``--resume DIR``, the run in DIR
continued with its own settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._flags import add_setting
from .checkpoint import Checkpoint, CheckpointError
from .net import TwoLayerNet
from .settings import SETTINGS, NetSettings, RunSettings, TrainSettings

__all__ = ["CHECKPOINT_NAME", "add_checkpoint_options", "resumed"]

CHECKPOINT_NAME = "checkpoint.zip"
"""The checkpoint's name in a run's --out folder."""


def add_checkpoint_options(parser: argparse.ArgumentParser) -> None:
    declared = RunSettings.declared()
    add_setting(parser, declared["checkpoint_every"])
    add_setting(parser, declared["resume"])


def resumed(args: argparse.Namespace, input_size: int) -> tuple[TwoLayerNet, TrainSettings, Path]:
    """The network, settings and checkpoint of the run in ``--resume DIR``, its checkpoint read
    and checked (not yet against the data: ``train`` does that). A usage error (argparse's, exit
    status 2) for a training or network flag given with it, or a checkpoint missing or refused."""
    parser = args.command_parser
    given = [
        SETTINGS[name].flag
        for name in SETTINGS
        if getattr(args, name, SETTINGS[name].default) != SETTINGS[name].default
    ]
    if given:
        parser.error(
            f"argument --resume: the run continues with its own settings; drop {', '.join(given)}"
        )
    path = args.resume / CHECKPOINT_NAME
    try:
        saved = Checkpoint.read(path)
        settings = TrainSettings.from_mapping(saved.state.get("settings", {}), "training")
    except FileNotFoundError:
        parser.error(f"argument --resume: {args.resume} holds no checkpoint ({CHECKPOINT_NAME})")
    except (CheckpointError, ValueError, TypeError) as exc:
        parser.error(f"argument --resume: {exc}")
    input_size_saved, hidden_size, output_size = saved.header.sizes
    if input_size_saved != input_size:
        parser.error(
            f"argument --resume: {path} is of {input_size_saved} inputs, the data have {input_size}"
        )
    chosen: dict[str, Any] = {
        "hidden_size": hidden_size,
        "dtype": saved.header.dtype,
        "activation": saved.header.activation,
    }
    assert set(chosen) <= set(NetSettings.declared())
    net = TwoLayerNet(input_size, output_size=output_size, **chosen)
    return net, settings, path
