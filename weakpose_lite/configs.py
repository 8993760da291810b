"""Configuration dataclasses on the command line: one flag per field, typed from the field's annotation.

A field's help text is its ``metadata["help"]``. A field whose type is itself a dataclass contributes its own fields,
flattened (``TrainConfig.model.hidden`` is ``--hidden``). ``X | None`` reads "none" as None, a bool is
``--flag / --no-flag``, a tuple takes one value per element, a float must be finite; a field without a default is a
positional argument, unless its ``metadata["short"]`` names a short flag (``"-o"``): then it is a required option.
The dataclass checks its own values (``__post_init__``), so the command line, papermill
parameters and Python callers are refused the same way.

``run_command`` gives every command the same behaviour on bad input: one line on stderr that names the flag, file or
field and what was expected, exit status 2, no traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import numbers
import os
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path


def option(default, help_text: str, **metadata):
    """A dataclass field with a default and the help text its command-line flag shows."""
    return dataclasses.field(default=default, metadata={"help": help_text, **metadata})


class CommandParser(argparse.ArgumentParser):
    """``argparse`` with errors on one line (no usage block) and a ``--debug`` flag that ``run_command`` reads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", help="show the traceback of an error")

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def add_arguments(parser: argparse.ArgumentParser, config_type: type, defaults=None, exclude: tuple[str, ...] = ()):
    """One flag per field of the dataclass ``config_type`` (nested ones flattened), defaults from ``defaults``."""
    for name, kind, default, metadata in _flat_fields(config_type, defaults, exclude):
        help_text = metadata.get("help", "")
        flag = {"help": f"{help_text} (default: {default})" if default is not _REQUIRED else help_text} | _parsing(kind)
        long = f"--{name.replace('_', '-')}"
        if default is not _REQUIRED:
            parser.add_argument(long, dest=name, default=default, **flag)
        elif "short" in metadata:
            parser.add_argument(metadata["short"], long, dest=name, required=True, **flag)
        else:
            parser.add_argument(name, **flag)


def from_arguments(config_type: type, arguments: argparse.Namespace, defaults=None, exclude: tuple[str, ...] = ()):
    """The ``config_type`` instance that the parsed ``arguments`` describe (fields in ``exclude`` from ``defaults``)."""
    values = vars(arguments)
    hints = typing.get_type_hints(config_type)
    built = {}
    for item in dataclasses.fields(config_type):
        inner = getattr(defaults, item.name, None) if defaults is not None else None
        if dataclasses.is_dataclass(hints[item.name]):
            built[item.name] = from_arguments(hints[item.name], arguments, inner or _default_of(item), exclude)
        elif item.name in exclude:
            built[item.name] = inner if defaults is not None else _default_of(item)
        else:
            built[item.name] = values[item.name]
    return config_type(**built)


def checked(config_type: type, **values):
    """``config_type(**values)`` after checking each value against its field's annotation (an int for ``int``, a
    number for ``float``, None only where the annotation allows it, ...): a notebook's parameters refused in one
    line naming the parameter, before any work."""
    hints = _hints(config_type)
    for name, value in values.items():
        if name not in hints:
            raise ValueError(f"{config_type.__name__} has no field {name!r}")
        _check_type(value, hints[name], f"parameter {name}")
    return config_type(**values)


def checked_replace(config, **changes):
    """``dataclasses.replace`` through ``checked``: the dataclass ``config`` with ``changes``, each checked against
    its field's annotation (a notebook's parameters given to a ready-made configuration)."""
    return checked(type(config), **{item.name: getattr(config, item.name) for item in dataclasses.fields(config)} | changes)


def check_field_types(instance) -> None:
    """Refuse a field of the dataclass ``instance`` whose value has not its annotated type, naming class and field.

    Every configuration's ``__post_init__`` calls it first, so a flag, a papermill parameter, a checkpoint's saved
    configuration and a study's ``--set`` are refused by the same rule, in one line: ``"TrainConfig.epochs must be
    int, got str '2'"``."""
    hints = _hints(type(instance))
    for item in dataclasses.fields(instance):
        _check_type(getattr(instance, item.name), hints[item.name], f"{type(instance).__name__}.{item.name}")


@functools.cache
def _hints(config_type: type) -> dict:
    return typing.get_type_hints(config_type)


def _check_type(value, kind, name: str) -> None:
    if not _has_type(value, kind):
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ValueError(f"{name} must be {_type_name(kind)}, got {type(value).__name__} {shown}")


def _has_type(value, kind) -> bool:
    """Whether ``value`` has type ``kind``; numpy's numbers count as numbers, a bool never does, a path is a str."""
    optional, kind = _without_none(kind)
    if value is None:
        return optional
    if dataclasses.is_dataclass(kind):
        return isinstance(value, kind)
    if typing.get_origin(kind) is tuple:
        arguments = typing.get_args(kind)
        return isinstance(value, (tuple, list)) and len(value) == len(arguments) and all(
            _has_type(item, arg) for item, arg in zip(value, arguments))  # fmt: skip
    if isinstance(value, bool) or kind is bool:
        return isinstance(value, bool) and kind is bool
    if kind is float:
        return isinstance(value, numbers.Real) and math.isfinite(value)
    if kind is int:
        return isinstance(value, numbers.Integral)
    if kind is str:
        return isinstance(value, (str, os.PathLike))
    return isinstance(value, kind)


def _type_name(kind) -> str:
    optional, kind = _without_none(kind)
    name = getattr(kind, "__name__", str(kind)) if typing.get_origin(kind) is not tuple else str(kind)
    return f"{'a finite ' if kind is float else ''}{name}{' or None' if optional else ''}"


def run_command(command: Callable[[list[str]], object], argv: list[str] | None = None) -> int:
    """Run ``command(argv)``; a bad input (``ValueError`` or ``OSError``) -> one line on stderr and 2, or the
    traceback with ``--debug``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        command(argv)
    except (ValueError, OSError) as error:
        if "--debug" in argv:
            raise
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


_REQUIRED = object()


def _default_of(item: dataclasses.Field):
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return _REQUIRED


def _flat_fields(config_type: type, defaults, exclude: tuple[str, ...], seen: set | None = None):
    """(name, type, default, metadata) of every field, nested dataclasses flattened; a repeated name is an error."""
    hints = typing.get_type_hints(config_type)
    seen = set() if seen is None else seen
    for item in dataclasses.fields(config_type):
        default = getattr(defaults, item.name) if defaults is not None else _default_of(item)
        if dataclasses.is_dataclass(hints[item.name]):
            yield from _flat_fields(hints[item.name], default, exclude, seen)
        elif item.name not in exclude:
            if item.name in seen:
                raise ValueError(f"{config_type.__name__}: field {item.name!r} appears twice on the command line")
            seen.add(item.name)
            yield item.name, hints[item.name], default, item.metadata


def _parsing(kind) -> dict:
    """argparse keywords that read a value of type ``kind``."""
    optional, kind = _without_none(kind)
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(kind) is tuple:
        element = typing.get_args(kind)[0]
        return {"nargs": len(typing.get_args(kind)), "type": _converter(element, optional), "metavar": element.__name__.upper()}
    return {"type": _converter(kind, optional)}


def _without_none(kind) -> tuple[bool, type]:
    """``X | None`` -> (True, X); ``X`` -> (False, X)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        others = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return True, others[0]
    return False, kind


def _converter(kind: type, optional: bool) -> Callable[[str], object]:
    def convert(text: str):
        if optional and text.lower() == "none":
            return None
        value = kind(text) if kind in (int, str, Path) else float(text)
        if kind is float and not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {text!r}")
        return value

    convert.__name__ = f"{kind.__name__}{' or none' if optional else ''}"  # argparse names it in its error messages
    return convert
