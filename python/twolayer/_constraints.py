"""The rules a setting's value must follow (a count, a size, a real in bounds, one of some words, a
dtype, a path, or either of two), and the errors that name the setting a value broke.

:mod:`twolayer.settings` declares each setting with one of these; each rule checks a value from
Python (``check``), parses one from a flag (``parse``) and gives the canonical value a sweep keys
its runs by (``canonical``).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import operator
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Constraint",
    "DType",
    "Either",
    "Int",
    "OneOf",
    "PathOf",
    "Real",
    "SettingError",
    "SettingTypeError",
    "Size",
]


class SettingError(ValueError):
    """A setting refused: ``setting`` is its name (``"learning_rate"``), so that a caller can name
    its own spelling of it (the CLI's ``--lr``) without reading the message."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its setting, so that it crosses to and from worker processes whole.
        return (type(self), (self.setting, str(self)))


class SettingTypeError(SettingError, TypeError):
    """A setting of the wrong type. A TypeError, as Python raises for a wrong type, and a
    SettingError, so that one ``except SettingError`` catches every refused setting."""


class Constraint:
    """What values a setting takes. ``check`` returns the value as the setting holds it (a NumPy
    integer as an int, a dtype by its name) or raises SettingError; ``parse`` reads a flag's
    text, raising ValueError with the message argparse shows after the flag's name."""

    def check(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        return text

    def canonical(self, value: Any) -> Any:
        """`value` as JSON holds it, unchecked: what tells two values apart in a sweep."""
        return value.item() if isinstance(value, np.generic) else value

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The words a flag accepts, for argparse to list and check; None for any text."""
        return None


@dataclass(frozen=True)
class Int(Constraint):
    """An integer of at least `minimum`; None too when `optional`."""

    minimum: int
    optional: bool = False

    def check(self, name: str, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise SettingTypeError(name, f"{name} must be an int, got {type(value).__name__}")
        if value < self.minimum:
            raise SettingError(name, f"{name} must be >= {self.minimum}, got {value}")
        return int(value)

    def parse(self, text: str) -> int:
        wanted = {0: "a non-negative integer", 1: "a positive integer"}.get(
            self.minimum, f"an integer >= {self.minimum}"
        )
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < self.minimum:
            raise ValueError(f"must be {wanted}, got {text!r}")
        return value


@dataclass(frozen=True)
class Size(Int):
    """A layer's size: an integer >= 1, worded as the network's sizes are."""

    minimum: int = 1

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, bool):
            raise SettingTypeError(name, f"{name} must be an int, got bool")
        try:
            size = operator.index(value)
        except TypeError:
            raise SettingTypeError(
                name, f"{name} must be an int, got {type(value).__name__}"
            ) from None
        if size < 1:
            raise SettingError(name, f"{name} must be positive, got {size}")
        return size


@dataclass(frozen=True)
class Real(Constraint):
    """A finite real number, within the bounds given: greater than `above`, at least `at_least`,
    less than `below` (a momentum in [0, 1): ``Real(at_least=0, below=1)``). Ints are held as
    floats, so that a learning rate of 1 and 1.0 are one setting."""

    above: float | None = None
    at_least: float | None = None
    below: float | None = None

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise SettingTypeError(
                name, f"{name} must be a real number, got {type(value).__name__}"
            )
        number = float(value)
        if not self._within(number):
            bounds = f"finite and {self._bounds()}" if self._bounds() else "finite"
            raise SettingError(name, f"{name} must be {bounds}, got {value}")
        return number

    def _within(self, number: float) -> bool:
        return (
            math.isfinite(number)
            and (self.above is None or number > self.above)
            and (self.at_least is None or number >= self.at_least)
            and (self.below is None or number < self.below)
        )

    def _bounds(self) -> str:
        """``"> 0"``, ``">= 0 and < 1"``: the bounds as messages say them."""
        ends = (("> ", self.above), (">= ", self.at_least), ("< ", self.below))
        return " and ".join(f"{sign}{end:g}" for sign, end in ends if end is not None)

    def canonical(self, value: Any) -> Any:
        value = super().canonical(value)
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def parse(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not self._within(value):
            bounds = f" {self._bounds()}" if self._bounds() else ""
            raise ValueError(f"must be a finite number{bounds}, got {text!r}")
        return value


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of some words. `spelled_out`: the message lists them as ``'a' or 'b'`` (the network's
    wording) rather than as a tuple."""

    words: tuple[str, ...]
    spelled_out: bool = False

    def check(self, name: str, value: Any) -> Any:
        if not isinstance(value, str) or value not in self.words:
            known = " or ".join(map(repr, self.words)) if self.spelled_out else repr(self.words)
            message = f"{name} must be {'' if self.spelled_out else 'one of '}{known}, "
            error = SettingError if isinstance(value, str) else SettingTypeError
            raise error(name, f"{message}got {value!r}")
        return value

    @property
    def choices(self) -> tuple[str, ...]:
        return self.words


@dataclass(frozen=True)
class DType(OneOf):
    """A floating dtype the core computes in, held by its name (np.float32, np.dtype("f4") and
    "float32" are one setting)."""

    words: tuple[str, ...] = ("float64", "float32")

    def check(self, name: str, value: Any) -> Any:
        try:
            dtype = np.dtype(value)
        except TypeError:
            dtype = None
        if dtype is None or dtype.name not in self.words:
            raise SettingTypeError(name, f"{name} must be float64 or float32, got {value!r}")
        return dtype.name

    def canonical(self, value: Any) -> Any:
        with contextlib.suppress(TypeError):  # not a dtype: check says so
            return np.dtype(value).name
        return value


@dataclass(frozen=True)
class Either(Constraint):
    """A number, or one of some words (an initial weight scale of 0.01, or "he")."""

    number: Constraint
    words: OneOf

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, str):
            if value not in self.words.words:
                known = ", ".join(map(repr, self.words.words))
                message = f"{name} must be a number or one of {known}, got {value!r}"
                raise SettingError(name, message)
            return value
        return self.number.check(name, value)

    def parse(self, text: str) -> Any:
        if text in self.words.words:
            return text
        try:
            return self.number.parse(text)
        except ValueError:
            known = ", ".join(self.words.words)
            raise ValueError(f"must be a number or one of {known}, got {text!r}") from None

    def canonical(self, value: Any) -> Any:
        return value if isinstance(value, str) else self.number.canonical(value)


@dataclass(frozen=True)
class PathOf(Constraint):
    """A path (a str or os.PathLike, held as a Path), or None."""

    def check(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, (str, os.PathLike)):
            raise SettingTypeError(name, f"{name} must be a path, got {type(value).__name__}")
        return Path(value)

    def parse(self, text: str) -> Path:
        return Path(text)

    def canonical(self, value: Any) -> Any:
        return None if value is None else str(value)
