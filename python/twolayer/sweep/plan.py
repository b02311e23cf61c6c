"""A sweep's plan: the runs that a space of settings and seeds make, each setting checked before
any run starts, and the canonical form that tells settings and runs apart."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ..settings import SETTINGS, NetSettings, Setting, SettingError, SettingTypeError, TrainSettings

__all__ = [
    "LogRange",
    "Run",
    "check_settings",
    "label",
    "parse_value",
    "plan_runs",
    "setting_names",
    "settings_key",
    "split",
]


@dataclass(frozen=True)
class LogRange:
    """A range sampled log-uniformly by random search; integers when both ends are integers (hidden
    sizes)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        for end in (self.low, self.high):
            if isinstance(end, bool) or not isinstance(end, (int, float)) or not math.isfinite(end):
                raise TypeError(
                    f"a range's ends must be finite numbers, got {self.low!r}:{self.high!r}"
                )
        if not 0 < self.low <= self.high:
            raise ValueError(
                f"a log-uniform range needs 0 < low <= high, got {self.low!r}:{self.high!r}"
            )

    @classmethod
    def parse(cls, text: str) -> LogRange:
        """``"1e-4:1"`` or ``"10:200"``."""
        low, sep, high = text.partition(":")
        low_end, high_end = _number(low), _number(high)
        if not sep or low_end is None or high_end is None:
            raise ValueError(f"a range is written LOW:HIGH with two numbers, got {text!r}")
        return cls(low_end, high_end)

    def sample(self, rng: np.random.Generator) -> float | int:
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        if isinstance(self.low, int) and isinstance(self.high, int):
            return min(max(round(value), self.low), self.high)
        # Three significant digits: readable in tables, enough for a learning rate.
        return float(f"{value:.3g}")


def _number(text: str) -> int | float | None:
    """`text` as an int, else a float; None if it is neither."""
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return None


def parse_value(text: str) -> Any:
    """A setting's value as the command line writes it: LOW:HIGH (a :class:`LogRange`), an
    integer, a number, or a word."""
    if ":" in text:
        return LogRange.parse(text)
    number = _number(text)
    return text if number is None else number


def settings_key(settings: Mapping[str, Any]) -> str:
    """What tells one setting of a sweep from another: its values in a canonical JSON form."""
    return json.dumps(settings, sort_keys=True)


Space = Mapping[str, Union[Sequence[Any], LogRange]]


@dataclass(frozen=True)
class Run:
    """One training run of a sweep: its settings (train and network keywords) and its seed."""

    settings: dict[str, Any]
    seed: int

    @property
    def key(self) -> str:
        """What identifies the run in runs.jsonl: settings and seed, in a canonical form."""
        return settings_key({"settings": self.settings, "seed": self.seed})


def setting_names() -> dict[str, Any]:
    """The settings a sweep can vary, and their defaults: the network's and ``train``'s, but the
    seed, which the sweep sets itself."""
    return {name: spec.default for name, spec in SETTINGS.items() if name != "seed"}


def plan_runs(
    space: Space, *, seeds: int | Sequence[int] = 1, trials: int | None = None, search_seed: int = 0
) -> list[Run]:
    """The runs of a sweep, each setting checked by ``train``'s own rules before any run starts.

    `space` maps setting names (``train`` keywords such as ``learning_rate``, and the network's
    ``hidden_size``, ``dtype``...) to lists of values. Without `trials` it is a grid: every
    combination, each with every seed. With `trials` it is a random search: `trials` settings, each
    value drawn from its list or :class:`LogRange` by a generator seeded with `search_seed` (so the
    same call plans the same runs, and a sweep can resume). `seeds` is a count (seeds 0, 1, ...) or
    a list of seeds, used for the initial weights and the mini-batches alike.

    Raises ValueError or TypeError naming the setting: an unknown name, an empty list, a range
    without `trials`, or a value ``train`` or the network rejects."""
    defaults = setting_names()
    values = {name: _values(name, choices, defaults, trials) for name, choices in space.items()}
    seed_list = _seed_list(seeds)
    if trials is None:
        # A grid: every list of values (a range needs trials, refused above).
        lists = [v for v in values.values() if not isinstance(v, LogRange)]
        combos = [dict(zip(values, combo)) for combo in itertools.product(*lists)]
    else:
        check_count("trials", trials)
        rng = np.random.default_rng(search_seed)
        combos = [
            {name: _draw(v, rng, SETTINGS[name]) for name, v in values.items()}
            for _ in range(trials)
        ]
    unique = list({settings_key(c): c for c in combos}.values())  # random search may repeat one
    for settings in unique:
        check_settings(settings)
    # Seed-major order: stopped early, a sweep has covered every setting at least once.
    return [Run(settings, seed) for seed in seed_list for settings in unique]


def _values(
    name: str, choices: Any, defaults: Mapping[str, Any], trials: int | None
) -> list[Any] | LogRange:
    if name not in defaults:
        raise SettingError(
            name, f"unknown setting {name!r}; the settings are {', '.join(sorted(defaults))}"
        )
    if isinstance(choices, (list, tuple)) and any(isinstance(c, LogRange) for c in choices):
        if len(choices) > 1:
            raise SettingError(name, f"{name}: give one range or a list of values, not both")
        choices = choices[0]  # a range as the command line gives it: in a list of one
    if isinstance(choices, LogRange):
        if trials is None:
            raise SettingError(
                name, f"{name}: a range ({choices.low}:{choices.high}) needs random search (trials)"
            )
        return choices
    if isinstance(choices, (str, bytes)) or not isinstance(choices, Iterable):
        raise SettingTypeError(
            name, f"{name}: expected a list of values or a LogRange, got {choices!r}"
        )
    listed = [SETTINGS[name].canonical(value) for value in choices]
    if not listed:
        raise SettingError(name, f"{name}: expected at least one value, got an empty list")
    return listed


def _draw(values: list[Any] | LogRange, rng: np.random.Generator, spec: Setting) -> Any:
    if isinstance(values, LogRange):
        return spec.canonical(values.sample(rng))
    return values[int(rng.integers(len(values)))]


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise TypeError("seeds must be a count or a list of seeds, got bool")
    if isinstance(seeds, (int, np.integer)):
        check_count("seeds", int(seeds))
        return list(range(int(seeds)))
    seed_list = [s.item() if isinstance(s, np.generic) else s for s in seeds]
    if not seed_list or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seed_list
    ):
        raise ValueError(
            f"seeds must be a count >= 1 or a non-empty list of integers >= 0, got {seeds!r}"
        )
    if len(set(seed_list)) != len(seed_list):
        raise ValueError(f"seeds must not repeat, got {seeds!r}")
    return seed_list


def check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def check_settings(settings: Mapping[str, Any]) -> None:
    """Raise what the network or ``train`` would raise for `settings` on MNIST, without the data."""
    from ..datasets import _MNIST, MNIST_CLASSES, MNIST_PIXELS
    from ..net import check_settings as check_net

    net_settings, train_settings = split(settings)
    mnist_sizes = (_MNIST["train_label"].shape[0], _MNIST["test_label"].shape[0])
    try:
        sizes, _, _, dtype, _ = check_net(
            MNIST_PIXELS, output_size=MNIST_CLASSES, seed=None, **net_settings
        )
        checked = TrainSettings(**train_settings)
        checked.check_data(*mnist_sizes)
        checked.check_net(dtype, sizes, mnist_sizes[0])
    except SettingError as exc:
        raise type(exc)(exc.setting, f"settings {label(settings)}: {exc}") from None


def split(settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(network keywords, all of them, with their defaults; train keywords)."""
    net = {name: settings.get(name, spec.default) for name, spec in NetSettings.declared().items()}
    return net, {k: v for k, v in settings.items() if k not in net}


def label(settings: Mapping[str, Any], names: Iterable[str] | None = None) -> str:
    """``lr 0.1, hidden 50``: the settings named (default: all), as tables and legends show them,
    by their flags."""
    shown = settings if names is None else [n for n in names if n in settings]
    return ", ".join(f"{SETTINGS[name].label} {settings[name]}" for name in shown) or "defaults"
