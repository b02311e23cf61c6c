"""What every command of ``twolayer`` shares: its parsers' rules, the flags of the settings (from
their declarations), the flags' types, and its errors."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._paths import UnwritableError, check_output_dir
from ._threads import check_thread_count
from .settings import Int, Real, Setting

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

# Python 3.14's argparse suggests the closest choice of a mistyped value.
SUGGEST: dict[str, Any] = {"suggest_onerror": True} if sys.version_info >= (3, 14) else {}
# Every parser: no abbreviations (--batch silently taken for --batch-size), and suggestions.
PARSING: dict[str, Any] = {"allow_abbrev": False, **SUGGEST}


def new_command(
    commands: Any, name: str, run: Callable[[argparse.Namespace], int], **kwargs: Any
) -> argparse.ArgumentParser:
    """The command `name` of ``twolayer``, which `run` runs (`kwargs`: ``add_parser``'s help,
    description, parents), parsing as every parser does, and naming its own usage in its usage
    errors."""
    parser: argparse.ArgumentParser = commands.add_parser(name, **PARSING, **kwargs)
    parser.set_defaults(run=run, command_parser=parser)
    return parser


def add_network_argument(parser: argparse.ArgumentParser) -> None:
    """PARAMS, a saved network: what predict, inspect and draw read."""
    parser.add_argument(
        "params", type=Path, metavar="PARAMS", help="the network, as 'twolayer train' saves it"
    )


def add_setting(parser: Any, spec: Setting) -> None:
    """The flag of setting `spec` (`parser`: a parser or an argument group), its type, choices
    and help from the declaration."""
    constraint = spec.flag_constraint
    kind: dict[str, Any] = {"choices": constraint.choices}
    if constraint.choices is None:
        kind = {"type": flag_type(constraint.parse), "metavar": spec.metavar}
    add_flag(parser, spec.flags, dest=spec.name, default=spec.default, help=spec.help, **kind)


def add_flag(parser: Any, flags: Sequence[str], **kwargs: Any) -> None:
    """An option named `flags[0]` in help and errors, also taken as any of the others (the book's
    spellings, an older name), which help mentions."""
    aliases = [flag for flag in flags[1:] if "_" not in flag]  # the underscored ones go unsaid
    if aliases:
        kwargs["help"] += f" (also {', '.join(aliases)})"
    parser.add_argument(flags[0], **kwargs)
    kwargs.update(help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    for alias in flags[1:]:  # each its own, so that an error names the flag as it was typed
        parser.add_argument(alias, **kwargs)


def flag_type(parse: Any) -> Any:
    """argparse's type for a flag read by `parse`: its ValueError as argparse's usage error."""

    def read(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return read


def unrecognized(
    args: argparse.Namespace, parser: argparse.ArgumentParser, unknown: list[str]
) -> str:
    """argparse's message for `unknown` arguments, and the closest flag of the command to the
    first unknown one."""
    message = f"unrecognized arguments: {' '.join(unknown)}"
    command = getattr(args, "command_parser", parser)
    # The dashed spellings: an underscored one is the same flag.
    flags = [f for f in command._option_string_actions if f.startswith("--") and "_" not in f]
    typed = next((word.split("=", 1)[0] for word in unknown if word.startswith("--")), None)
    if typed is not None:
        close = difflib.get_close_matches(typed.replace("_", "-"), flags, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]}?"
    return message


def add_dir_option(parser: Any, flag: str, default: Path | None, help: str) -> None:
    """An option naming a directory (`parser`: a parser or an argument group)."""
    parser.add_argument(flag, type=Path, default=default, metavar="DIR", help=help)


# The command's own numbers, read and worded as the settings' are.
positive_int = flag_type(Int(1).parse)
nonnegative_int = flag_type(Int(0).parse)
positive_float = flag_type(Real(above=0).parse)


def thread_count(text: str) -> int:
    """--num-threads: the bounds and the message are _threads.py's, as for set_num_threads."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    try:
        return check_thread_count(n, name="")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def error(exc: Exception) -> int:
    print(f"twolayer: error: {exc}", file=sys.stderr)
    return EXIT_ERROR


def unwritable(flag: str, path: Path | None) -> int | None:
    """None if files can be written in the folder `path` (or it can be created), else the usage
    error's status."""
    try:
        if path is not None:
            check_output_dir(path)
    except UnwritableError as exc:
        print(f"twolayer: error: argument {flag}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return None
