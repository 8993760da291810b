"""The project's own promises: a slim install (the runtime dependencies are what the library imports), one dependency
list for pip and conda, one repository address, the README's commands."""

import ast
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}
# What Binder's environment.yml holds besides the runtime dependencies: running and checking the notebooks, the tests.
BINDER_EXTRAS = ("notebooks", "test")
# distribution name -> import name, where they differ
IMPORT_NAMES = {"opencv-python-headless": "cv2", "pyyaml": "yaml"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _repository_slug() -> str:
    url = _pyproject()["project"]["urls"]["Repository"]
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+)", url)
    assert match, f"[project.urls] Repository must be a GitHub address, got {url}"
    return match.group(1)


def _bound(requirement: str) -> str:
    return re.sub(r"\s", "", requirement.strip())[len(_name(requirement)):]


def _environment_requirements() -> dict[str, str]:
    """Package (pip name) -> version bound, from environment.yml."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    requirements = {}
    for entry in environment["dependencies"]:
        for requirement in entry["pip"] if isinstance(entry, dict) else [entry]:
            requirements[CONDA_TO_PIP.get(_name(requirement), _name(requirement))] = _bound(requirement)
    return {name: bound for name, bound in requirements.items() if name not in NOT_PACKAGES}


def test_environment_yml_holds_the_runtime_dependencies_and_binder_extras_with_the_same_bounds():
    project = _pyproject()["project"]
    requirements = project["dependencies"] + [r for extra in BINDER_EXTRAS for r in project["optional-dependencies"][extra]]
    assert _environment_requirements() == {_name(r): _bound(r) for r in requirements}


def _library_imports(module_level: bool) -> set[str]:
    """Top-level names of the modules the library imports (at module level, or only inside functions)."""
    names = set()
    for path in (ROOT / "weakpose_lite").rglob("*.py"):
        tree = ast.parse(path.read_text())
        nested = {id(node) for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for node in ast.walk(function)}
        for node in ast.walk(tree):
            if (id(node) in nested) == module_level:
                continue
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"weakpose_lite"}


def test_the_runtime_dependencies_are_what_the_library_imports():
    project = _pyproject()["project"]
    runtime = {IMPORT_NAMES.get(_name(r), _name(r)) for r in project["dependencies"]}
    assert _library_imports(module_level=True) == runtime, "pip install weakpose-lite must be enough to import it"
    optional = _library_imports(module_level=False) - runtime
    extras = {IMPORT_NAMES.get(_name(r), _name(r)) for rs in project["optional-dependencies"].values() for r in rs}
    assert optional <= extras, f"imported inside functions but in no extra: {sorted(optional - extras)}"


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
        r"raw\.githubusercontent\.com/([\w.-]+/[\w.-]+)/",
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
