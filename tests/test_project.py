"""The project's own promises: one dependency list for pip and conda, one repository address, the README's commands."""

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _repository_slug() -> str:
    url = _pyproject()["project"]["urls"]["Repository"]
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+)", url)
    assert match, f"[project.urls] Repository must be a GitHub address, got {url}"
    return match.group(1)


def _environment_packages() -> set[str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            names |= {_name(r) for r in entry["pip"]}
        else:
            names.add(CONDA_TO_PIP.get(_name(entry), _name(entry)))
    return names - NOT_PACKAGES


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    pip_names = {_name(r) for r in project["dependencies"]} | {_name(r) for r in project["optional-dependencies"]["test"]}
    assert _environment_packages() == pip_names


def test_constraints_pin_the_cpu_torch_wheel():
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text().split()


def _files_with_links() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "notebooks").glob("*.ipynb"))]


def test_every_binder_colab_and_install_link_uses_the_one_repository_address():
    slug = _repository_slug()
    patterns = [
        r"mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/",
        r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/",
        r"git\+https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?[@\s\"'#]",
        r"git clone https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?[\s\"']",
    ]
    found = 0
    for path in _files_with_links():
        text = path.read_text()
        for pattern in patterns:
            for match in re.finditer(pattern, text):
                found += 1
                assert match.group(1) == slug, f"{path.name}: {match.group(0)!r} does not use {slug}"
    assert found >= 2, "the README should carry at least the Binder badge and a clone command"


def test_colab_badges_point_at_the_notebook_that_carries_them():
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = json.dumps(json.loads(notebook.read_text()))
        for path in re.findall(r"colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/([\w./-]+\.ipynb)", text):
            assert path == f"notebooks/{notebook.name}"


def test_readme_opens_with_the_main_and_test_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    commands = [line for line in first_block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ["bash scripts/main.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
