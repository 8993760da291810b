"""Results files: strict JSON both ways (NaN written as null, a bare NaN read back refused naming the file)."""

import math

import pytest

from weakpose_lite.results import load_results, write_results


def test_a_missing_figure_is_written_as_null_and_read_back(tmp_path):
    write_results(tmp_path / "weak.json", {"evaluation": {"mpjpe_mm": 98.5, "per_joint": [1.0, math.nan]}})
    assert load_results(tmp_path / "weak.json") == {"evaluation": {"mpjpe_mm": 98.5, "per_joint": [1.0, None]}}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_file_that_is_not_strict_json_is_refused_naming_it(tmp_path, constant):
    path = tmp_path / "weak.json"
    path.write_text(f'{{"evaluation": {{"mpjpe_mm": {constant}}}}}')
    with pytest.raises(ValueError, match=rf"weak.json: not strict JSON: {constant} where a number or null belongs"):
        load_results(path)
