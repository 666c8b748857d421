"""Typed method configurations: frozen dataclasses with presets per (task, tier) and checked overrides.

Why typed: a record must say exactly how a method ran (every resolved field, not only what the user
overrode), a trained model must be keyed by the fields that change its weights, and a typo on the
command line (``--config setps=10``) must fail with the list of valid keys instead of being ignored.

A method family declares one subclass of ``MethodConfig`` and a preset table; the harness resolves
``preset.override(cli_overrides)`` once per run and writes ``to_dict()`` into the record.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import yaml

from benchmark.errors import BgbenchError

C = TypeVar("C", bound="MethodConfig")


class ConfigError(BgbenchError):
    """An unknown config key or a value of the wrong type."""


@dataclass(frozen=True)
class MethodConfig:
    """Base class of every method config. Subclasses are frozen dataclasses of plain values.

    ``SAMPLING_ONLY`` names the fields that change sampling or scoring but not the trained weights;
    every other field is part of ``training_key()``, so a changed field retrains instead of reusing.
    """

    SAMPLING_ONLY: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def training_key(self) -> dict[str, Any]:
        """The fields trained weights depend on (what a weights-store key is built from)."""
        return {k: v for k, v in self.to_dict().items() if k not in self.SAMPLING_ONLY}

    def override(self: C, overrides: dict[str, Any] | None) -> C:
        """A copy with ``overrides`` applied; unknown keys and values of the wrong type are errors."""
        overrides = dict(overrides or {})
        valid = self.field_names()
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise ConfigError(
                f"Unknown {type(self).__name__} key(s) {', '.join(unknown)}. Valid keys: {', '.join(sorted(valid))}."
            )
        hints = typing.get_type_hints(type(self))
        checked = {key: coerce(value, hints[key], f"{type(self).__name__}.{key}") for key, value in overrides.items()}
        return dataclasses.replace(self, **checked)


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a config value (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` as type ``hint`` (int, float, bool, str, X | None, tuple[X, ...], Literal[...]), else ConfigError.

    Values from the command line arrive as YAML scalars, so ints are accepted for floats, and strings
    for tuples are split on commas. Booleans are never numbers (``True`` is not an int here).
    """
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {hint}.")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}.")
    if origin is tuple:
        items = [yaml.safe_load(v.strip()) for v in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}.")
        inner = args[0] if args else Any
        return tuple(coerce(v, inner, where) for v in items)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}.")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where} must be an integer, got {value!r}.")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where} must be a number, got {value!r}.")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {value!r}.")
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise ConfigError(f"{where}: cannot use {value!r} as {hint}.")


def preset(table: dict[str, C], task_name: str, default: C) -> C:
    """The preset of a task (case-insensitive), or ``default`` for tasks without one."""
    return table.get(task_name.upper(), default)


__all__ = ["ConfigError", "MethodConfig", "coerce", "preset"]
