"""A notebook's parameters (its papermill ``parameters`` cell) read, converted and compared with what a run used.

A parameters cell holds one ``name: type = literal  # help`` per line (types: ``int``, ``float``, ``str``, ``bool``,
``list``, ``Optional[...]``), the form that ``papermill --help-notebook`` lists. ``parameters_cell`` reads it,
``converted`` turns a command-line string into a value of the parameter's type (one line naming the parameter
otherwise), and ``LessonClaims`` lets a notebook assert the claims its prose makes about its default configuration
only when the run uses that configuration: a reproduction run with other parameters still checks everything that
must hold for any run, and says which claims it did not check.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list}
NONE_WORDS = ("None", "none", "null")


@dataclass(frozen=True)
class Parameter:
    """One line of a parameters cell: its name, type (``kind``: int, float, str, bool or list), default and help."""

    name: str
    kind: type
    optional: bool
    default: object
    help: str

    @property
    def type_name(self) -> str:
        return f"{self.kind.__name__}{' or None' if self.optional else ''}"


def parameters_cell(source: str, where: str = "parameters cell") -> dict[str, Parameter]:
    """The source of a parameters cell -> its parameters by name, in order; a line of another form is an error."""
    tree = ast.parse(source)
    lines = source.splitlines()
    found = {}
    for statement in tree.body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value):
            raise ValueError(f"{where}, line {statement.lineno}: expected `name: type = value  # help`")
        name = statement.target.id
        optional, kind = _annotation(statement.annotation, f"{where}, parameter {name}")
        default = ast.literal_eval(statement.value)
        line = lines[statement.end_lineno - 1]
        found[name] = Parameter(name, kind, optional, default, line.split("#", 1)[1].strip() if "#" in line else "")
    return found


def _annotation(node: ast.expr, where: str) -> tuple[bool, type]:
    """``int`` -> (False, int); ``Optional[int]`` or ``int | None`` -> (True, int)."""
    if isinstance(node, ast.Name) and node.id in TYPES:
        return False, TYPES[node.id]
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "Optional":
        return True, _annotation(node.slice, where)[1]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and _is_none(node.right):
        return True, _annotation(node.left, where)[1]
    raise ValueError(f"{where}: type must be one of {', '.join(TYPES)} or Optional[...], got {ast.unparse(node)}")


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def converted(parameter: Parameter, text: str) -> object:
    """A command-line string -> the parameter's value (``None`` for None/none/null where optional)."""
    if parameter.optional and text in NONE_WORDS:
        return None
    try:
        value = _convert(parameter.kind, text)
    except (ValueError, SyntaxError):
        value = None
    if value is None:
        raise ValueError(f"parameter {parameter.name} must be {parameter.type_name}, got {text!r}")
    return value


def _convert(kind: type, text: str):
    if kind is int:
        return int(text)
    if kind is float:
        number = float(text)
        return number if math.isfinite(number) else None
    if kind is bool:
        return {"true": True, "false": False}.get(text.lower())
    if kind is list:
        value = ast.literal_eval(text)
        return value if isinstance(value, list) else None
    return text


class LessonClaims:
    """The claims a lesson's prose makes about its default parameters: asserted when a run uses them, else listed
    as not checked. ``changed`` maps each parameter the run changed to (default, value)."""

    def __init__(self, changed: dict[str, tuple[object, object]]):
        self.changed = changed

    @property
    def at_defaults(self) -> bool:
        return not self.changed

    def describe(self) -> str:
        if self.at_defaults:
            return "the lesson's default parameters: every claim of its text is checked"
        changes = ", ".join(f"{name} = {value!r} (default {default!r})" for name, (default, value) in self.changed.items())
        return f"parameters changed from the lesson's: {changes}; claims about the defaults are listed, not checked"

    def check(self, holds: bool, claim: str) -> None:
        """Assert ``claim`` at the defaults; otherwise print that it was not checked in this run."""
        if self.at_defaults:
            assert holds, claim
        else:
            print(f"not checked (parameters changed): {claim}")


def lesson_claims(history: list[str], values: dict) -> LessonClaims:
    """The claims object of a running notebook: ``history`` is IPython's ``In`` (the sources of the executed cells,
    the parameters cell among them, before papermill's injected values), ``values`` its ``globals()``. An empty
    history (a kernel told not to store it, as nbval's) means the committed cells ran as they are: the defaults."""
    defaults = next((found for source in history if (found := _parameters_or_none(source))), None)
    if defaults is None and not any(source.strip() for source in history):
        # A runner that keeps no history (nbval executes with store_history=False) injects no parameters either: it
        # runs the committed cells, the lesson's defaults.
        return LessonClaims({})
    if defaults is None:
        raise ValueError("no parameters cell among the executed cells: run the notebook from its first cell")
    changed = {name: (item.default, values[name]) for name, item in defaults.items() if values.get(name) != item.default}
    return LessonClaims(changed)


def _parameters_or_none(source: str) -> dict[str, Parameter] | None:
    try:
        found = parameters_cell(source)
    except (ValueError, SyntaxError):
        return None
    return found or None
