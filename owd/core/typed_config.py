"""Build typed dataclasses from parsed YAML, with one clear error per mistake.

A tiny, strict converter: unknown keys, wrong types and failed checks raise
:class:`ConfigError` naming the file, the dotted field path, what was expected
and what was found. Stages receive the dataclasses, never dicts.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from owd.core.errors import ConfigError

__all__ = ["ConfigError", "ByteSize", "Duration", "build"]

T = TypeVar("T")


class ByteSize(int):
    """A size in bytes; YAML may give an int or a string such as ``"5 MiB"`` or ``"1GB"``."""

    _UNITS = {
        "": 1, "b": 1,
        "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
        "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    }
    _PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")

    @classmethod
    def parse(cls, value: object) -> "ByteSize":
        if isinstance(value, bool):
            raise ValueError("expected a size such as 1048576 or '1 MiB'")
        if isinstance(value, int):
            return cls(value)
        if isinstance(value, str):
            match = cls._PATTERN.match(value)
            if match and match.group(2).lower() in cls._UNITS:
                return cls(int(float(match.group(1)) * cls._UNITS[match.group(2).lower()]))
        raise ValueError(f"expected a size such as 1048576 or '1 MiB', got {value!r}")


class Duration(float):
    """A duration in seconds; YAML may give a number (seconds) or a string such as
    ``"90s"``, ``"15m"``, ``"6h"``, ``"7d"`` or ``"2w"``."""

    _UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    _PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]?)\s*$")

    @classmethod
    def parse(cls, value: object) -> "Duration":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value) and value >= 0:
                return cls(value)
        elif isinstance(value, str):
            match = cls._PATTERN.match(value)
            if match and match.group(2).lower() in cls._UNITS:
                return cls(float(match.group(1)) * cls._UNITS[match.group(2).lower()])
        raise ValueError(f"expected a duration such as 3600, '6h' or '7d', got {value!r}")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (list, tuple):
        return f"a list of {_type_name(get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of {_type_name(get_args(tp)[0])} to {_type_name(get_args(tp)[1])}"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    if tp is ByteSize:
        return "a size (bytes or '5 MiB')"
    if tp is Duration:
        return "a duration (seconds, or '6h', '7d')"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _convert(tp: Any, value: Any, path: str, file: str | None) -> Any:
    origin = get_origin(tp)
    wrong = lambda: ConfigError(file, path, f"expected {_type_name(tp)}, got {_describe(value)}")  # noqa: E731

    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, path, file)
            except ConfigError:
                continue
        raise wrong()
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise wrong()
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise wrong()
        (item_tp,) = get_args(tp)[:1]
        return [_convert(item_tp, v, f"{path}[{i}]", file) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise wrong()
        key_tp, val_tp = get_args(tp)
        return {
            _convert(key_tp, k, f"{path}.{k}", file): _convert(val_tp, v, f"{path}.{k}", file)
            for k, v in value.items()
        }
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a dataclass type, never an instance
        return build(tp, value, file=file, path=path)
    if tp is ByteSize:
        try:
            return ByteSize.parse(value)
        except ValueError:
            raise wrong() from None
    if tp is Duration:
        try:
            return Duration.parse(value)
        except ValueError:
            raise wrong() from None
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # YAML spells NaN and infinity `.nan` and `.inf`: no delay, timeout or score of
            # ours means anything there (NaN compares false with everything, so it silently
            # disables every floor it meets), so every number field must be finite.
            if not math.isfinite(value):
                raise ConfigError(file, path, f"expected a finite number, got {value!r}")
            return float(value)
        raise wrong()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise wrong()
    if tp is bool or tp is str:
        if isinstance(value, tp):
            return value
        raise wrong()
    raise TypeError(f"unsupported config type {tp!r} at {path}")  # a bug in our dataclasses


def build(cls: type[T], data: Any, *, file: str | Path | None = None, path: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; raise :class:`ConfigError` on any mistake.

    After construction, a dataclass may define ``check(self) -> None`` that raises
    ``ValueError("field: problem")`` for cross-field rules; the field is prefixed
    with ``path`` in the error.
    """
    file_s = str(file) if file else None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(file_s, path, f"expected a mapping, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    if unknown:
        known = ", ".join(sorted(fields))
        where = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ConfigError(file_s, where, f"unknown key (known keys here: {known})")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{path}.{name}" if path else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], sub, file_s)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(file_s, sub, f"required, expected {_type_name(hints[name])}")
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        try:
            check()
        except ValueError as exc:
            field, _, problem = str(exc).partition(": ")
            if not problem:
                field, problem = "", field
            full = ".".join(p for p in (path, field) if p)
            raise ConfigError(file_s, full, problem) from None
    return obj
