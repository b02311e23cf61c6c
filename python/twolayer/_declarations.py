"""What a declaration of a setting is: :func:`setting` makes a field of a settings dataclass whose
metadata holds it, :class:`Setting` is it as read back, and :class:`DeclaredSettings`, the base of
the dataclasses in :mod:`twolayer.settings`, checks every field when one is made."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._constraints import Constraint, SettingTypeError

__all__ = ["DeclaredSettings", "Setting", "setting"]


@dataclass(frozen=True)
class Setting:
    """One setting, as :func:`setting` declares it; `name` and `annotation` are its field's."""

    name: str
    annotation: str
    default: Any
    constraint: Constraint
    help: str
    flag: str
    aliases: tuple[str, ...]
    metavar: str | None
    flag_constraint: Constraint
    recorded: bool
    in_every_history: bool

    def check(self, value: Any) -> Any:
        """`value` as the setting holds it, or SettingError naming the setting."""
        return self.constraint.check(self.name, value)

    def canonical(self, value: Any) -> Any:
        return self.constraint.canonical(value)

    @property
    def flags(self) -> tuple[str, ...]:
        """The flag, then its aliases: the book's name in both spellings where it differs."""
        book = ("--" + self.name.replace("_", "-"), "--" + self.name)
        names = (self.flag, *self.aliases, *book)
        return tuple(dict.fromkeys(names))

    @property
    def label(self) -> str:
        """The setting as tables, legends and axes name it: its flag without the dashes."""
        return self.flag[2:]


def setting(
    default: Any,
    constraint: Constraint,
    help: str,
    *,
    flag: str | None = None,
    aliases: tuple[str, ...] = (),
    metavar: str | None = None,
    flag_constraint: Constraint | None = None,
    recorded: bool = True,
    in_every_history: bool = False,
) -> Any:
    """A settings dataclass field: `default`, the values `constraint` allows, `help` (argparse's,
    ``%(default)s`` allowed), and the command line's `flag` (default: ``--the-name``) with
    `aliases`; `flag_constraint`, where the command line asks for more than the API (``--iters``
    of at least 1, since 0 iterations would train nothing).

    A training or network setting is `recorded` by a run's :class:`~twolayer.history.History`
    unless told otherwise; a history.json written before the setting was added reads as its
    default, except where it is `in_every_history` (the first ones: a file without it is refused).
    """
    spec = {
        "default": default,
        "constraint": constraint,
        "help": help,
        "flag": flag,
        "aliases": aliases,
        "metavar": metavar,
        "flag_constraint": flag_constraint or constraint,
        "recorded": recorded,
        "in_every_history": in_every_history,
    }
    return field(default=default, metadata={"setting": spec})


class DeclaredSettings:
    """The base of the settings dataclasses: every field checked when one is made; the
    declarations."""

    def __post_init__(self) -> None:
        for spec in self.declared().values():
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))

    @classmethod
    def declared(cls) -> dict[str, Setting]:
        return _declared(cls)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], what: str) -> Any:
        """The settings `values` gives (the others at their defaults), checked; SettingTypeError
        naming the first unknown one."""
        declared = cls.declared()
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise SettingTypeError(
                unknown[0],
                f"unknown {what} setting {', '.join(unknown)}; the settings are "
                f"{', '.join(declared)}",
            )
        return cls(**values)


_DECLARED: dict[type, dict[str, Setting]] = {}  # by class, read once from its fields


def _declared(cls: type) -> dict[str, Setting]:
    if cls not in _DECLARED:
        declared = {}
        for f in dataclasses.fields(cls):
            spec = dict(f.metadata["setting"])
            spec["flag"] = spec["flag"] or "--" + f.name.replace("_", "-")
            declared[f.name] = Setting(name=f.name, annotation=str(f.type), **spec)
        _DECLARED[cls] = declared
    return _DECLARED[cls]
