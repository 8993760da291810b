"""Command lines from configuration dataclasses: one typed flag per field, nested fields flattened, one-line errors."""

import argparse
from dataclasses import dataclass, field

import pytest

from weakpose_lite.configs import CommandParser, add_arguments, checked, checked_replace, from_arguments, option, run_command


@dataclass(frozen=True)
class Inner:
    width: int = option(4, "a width")
    rate: float = option(0.5, "a rate")


@dataclass(frozen=True)
class Outer:
    source: str = field(metadata={"help": "where from"})
    target: str = field(metadata={"help": "where to", "short": "-o"})
    cap: int | None = option(None, "a cap; none: no cap")
    size: tuple[float, float] | None = option(None, "two numbers")
    fast: bool = option(False, "go fast")
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self):
        if self.inner.rate > 1:
            raise ValueError(f"rate must be at most 1, got {self.inner.rate}")


def _parse(argv: list[str]) -> Outer:
    parser = CommandParser(prog="outer")
    add_arguments(parser, Outer)
    arguments = parser.parse_args(argv)
    if arguments.size is not None:
        arguments.size = tuple(arguments.size)
    return from_arguments(Outer, arguments)


def test_flags_are_typed_nested_fields_flattened_and_defaults_kept():
    config = _parse(["in", "-o", "out", "--cap", "3", "--size", "1", "2.5", "--fast", "--width", "8"])
    assert config == Outer("in", "out", 3, (1.0, 2.5), True, Inner(8, 0.5))
    assert _parse(["in", "-o", "out", "--cap", "none"]) == Outer("in", "out")


@pytest.mark.parametrize(
    "argv, named",
    [
        (["in", "-o", "out", "--cap", "three"], "--cap"),
        (["in", "-o", "out", "--rate", "nan"], "--rate"),
        (["in", "-o", "out", "--rate", "inf"], "--rate"),
        (["in"], "-o/--target"),
        (["in", "-o", "out", "--colour", "red"], "--colour"),
    ],
)
def test_a_bad_flag_is_one_line_with_status_2(argv, named, capsys):
    with pytest.raises(SystemExit) as raised:
        _parse(argv)
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: ") and named in error


def test_a_value_the_dataclass_refuses_is_one_line_with_status_2_and_debug_re_raises(capsys):
    assert run_command(lambda argv: _parse(argv), ["in", "-o", "out", "--rate", "2"]) == 2
    assert capsys.readouterr().err == "error: rate must be at most 1, got 2.0\n"
    with pytest.raises(ValueError, match="rate must be at most 1"):
        run_command(lambda argv: _parse([a for a in argv if a != "--debug"]), ["in", "-o", "out", "--rate", "2", "--debug"])


def test_a_field_name_used_twice_is_refused():
    @dataclass(frozen=True)
    class Twice:
        width: int = option(1, "outer width")
        inner: Inner = field(default_factory=Inner)

    with pytest.raises(ValueError, match="'width' appears twice"):
        add_arguments(argparse.ArgumentParser(), Twice)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"width": "4"}, "parameter width must be int, got str '4'"),
        ({"width": True}, "parameter width must be int, got bool True"),
        ({"rate": float("nan")}, "parameter rate must be a finite float, got float nan"),
        ({"colour": "red"}, "Inner has no field 'colour'"),
    ],
)
def test_checked_refuses_a_parameter_of_the_wrong_type_in_one_line(values, message):
    with pytest.raises(ValueError) as raised:
        checked(Inner, **values)
    assert str(raised.value) == message


def test_checked_accepts_what_the_annotations_allow():
    assert checked(Inner, width=3, rate=1) == Inner(3, 1)
    assert checked(Outer, source="a", target="b", cap=None, size=[1, 2.5], inner=Inner()).size == [1, 2.5]


def test_checked_replace_changes_the_named_fields_and_checks_them_as_checked_does():
    assert checked_replace(Inner(3, 0.25), rate=0.75) == Inner(3, 0.75)
    with pytest.raises(ValueError, match="parameter width must be int, got str '5'"):
        checked_replace(Inner(), width="5")
    with pytest.raises(ValueError, match="rate must be at most 1, got 2"):
        checked_replace(Outer("a", "b"), inner=Inner(rate=2))
