"""Notebook parameters: the parameters cell read as papermill lists it, values converted, claims gated on defaults."""

import pytest

from weakpose_lite.parameters import LessonClaims, converted, lesson_claims, parameters_cell

CELL = '''epochs: int = 16  # the main job's; the paper: 100
lam: float = 0.8  # λ of Eq. 3
dataset: Optional[str] = None  # a folder; None: the synthetic set
frames: int | None = 4000  # None: every frame
name: str = "body"  # a skeleton
views: list = [0, 10]  # cameras drawn
fast: bool = False  # no comment needed
'''


def test_a_parameters_cell_gives_each_name_its_type_default_and_help():
    found = parameters_cell(CELL)
    assert list(found) == ["epochs", "lam", "dataset", "frames", "name", "views", "fast"]
    assert (found["epochs"].kind, found["epochs"].optional, found["epochs"].default) == (int, False, 16)
    assert (found["dataset"].kind, found["dataset"].optional, found["dataset"].default) == (str, True, None)
    assert (found["frames"].kind, found["frames"].optional) == (int, True)
    assert found["lam"].help == "λ of Eq. 3" and found["views"].default == [0, 10]


@pytest.mark.parametrize("line", ["x = 3  # no type", "x: dict = {}  # not a parameter type", "print(3)"])
def test_a_line_of_another_form_is_refused_naming_it(line):
    with pytest.raises(ValueError, match="line 1|type must be"):
        parameters_cell(line, "nb.ipynb")


@pytest.mark.parametrize("name, text, value", [
    ("epochs", "5", 5), ("lam", "1", 1.0), ("lam", "0", 0.0), ("dataset", "none", None), ("dataset", "d/x", "d/x"),
    ("frames", "None", None), ("views", "[1, 2]", [1, 2]), ("fast", "true", True), ("name", "5", "5"),
])  # fmt: skip
def test_values_are_read_as_their_parameters_type(name, text, value):
    result = converted(parameters_cell(CELL)[name], text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize("name, text", [("epochs", "5.5"), ("epochs", "none"), ("lam", "nan"), ("lam", "x"),
                                        ("views", "3"), ("fast", "maybe")])  # fmt: skip
def test_a_bad_value_is_one_line_naming_the_parameter_and_its_type(name, text):
    with pytest.raises(ValueError, match=rf"^parameter {name} must be \w+.*, got '{text}'$"):
        converted(parameters_cell(CELL)[name], text)


def test_claims_hold_at_the_defaults_and_are_listed_not_checked_otherwise(capsys):
    injected = "# Parameters\nlam = 0.6\n"
    at_defaults = lesson_claims(["import torch", CELL, "x = 1"], {"epochs": 16, "lam": 0.8, "dataset": None,
                                "frames": 4000, "name": "body", "views": [0, 10], "fast": False})  # fmt: skip
    assert at_defaults.at_defaults
    with pytest.raises(AssertionError, match="weak beats strong"):
        at_defaults.check(False, "weak beats strong")
    changed = lesson_claims(["import torch", CELL, injected], {"epochs": 16, "lam": 0.6, "dataset": None,
                            "frames": 4000, "name": "body", "views": [0, 10], "fast": False})  # fmt: skip
    assert changed.changed == {"lam": (0.8, 0.6)} and "lam = 0.6 (default 0.8)" in changed.describe()
    changed.check(False, "weak beats strong")
    assert capsys.readouterr().out == "not checked (parameters changed): weak beats strong\n"


def test_claims_need_the_parameters_cell_to_have_run():
    with pytest.raises(ValueError, match="no parameters cell"):
        lesson_claims(["import torch"], {})
    assert isinstance(LessonClaims({}), LessonClaims) and LessonClaims({}).at_defaults


def test_a_kernel_that_keeps_no_history_runs_the_committed_cells_so_every_claim_is_checked():
    """nbval executes with store_history=False: IPython's In is then [""], and nothing was injected."""
    claims = lesson_claims([""], {"lam": 0.8})
    assert claims.at_defaults
    with pytest.raises(AssertionError, match="weak beats strong"):
        claims.check(False, "weak beats strong")
