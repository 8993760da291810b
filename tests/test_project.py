"""The project's own promises: a slim install (the runtime dependencies are what the library imports), Binder pinned
to what CI tested, one repository address at one revision behind every link, each link opening the edition it
names, the README's commands."""

import ast
import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
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


def _binder_pins() -> dict[str, str]:
    """Package -> exact version, from environment.yml's pip section."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))
    return dict(line.split("==") for line in pip if "==" in line)


def test_binder_environment_is_the_lock_of_the_environment_ci_tested():
    """environment.yml pins exactly what is installed here (CI's venv) for the runtime and [notebooks] requirements,
    transitively; after an upgrade, python scripts/binder_lock.py rewrites it. Needs the [notebooks] extra installed
    (scripts/test.sh installs it; a plain `pip install -e ".[test]"` does not)."""
    try:
        locked = binder_lock.closure()
    except SystemExit as missing:  # binder_lock's one line: which requirement is not installed
        pytest.skip(str(missing))
    assert (ROOT / "environment.yml").read_text() == binder_lock.environment_yml(locked), \
        "run python scripts/binder_lock.py"


def test_binder_pins_satisfy_pyproject_and_hold_no_test_package():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = _binder_pins()
    project = _pyproject()["project"]
    for text in project["dependencies"] + project["optional-dependencies"]["notebooks"]:
        requirement = Requirement(text)
        version = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), f"{version} does not satisfy {text}"
    assert pins["torch"].endswith("+cpu"), "the CPU wheel, as CI tests it"
    assert not {"pytest", "nbval", "hypothesis", "opencv-python-headless", "nbgrader"} & set(pins)


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


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


colab_install_cell = _script("colab_install_cell")
binder_lock = _script("binder_lock")
REVISION = colab_install_cell.REVISION
INSTRUCTOR = sorted((ROOT / "notebooks").glob("0*.ipynb"))
STUDENT = sorted((ROOT / "notebooks" / "student").glob("0*.ipynb"))
# Every kind of address that opens or installs something of the repository: (pattern, what its groups are).
ADDRESSES = {
    "colab": re.compile(r"https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/([\w.-]+)/([\w./-]+)"),
    "binder": re.compile(r"https://mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/([\w.-]+)\?urlpath=lab/tree/([\w./-]+)"),
    "raw": re.compile(r"https://raw\.githubusercontent\.com/([\w.-]+/[\w.-]+)/([\w.-]+)/([\w./{}-]+)"),
    "install": re.compile(r"git\+https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?@([\w.-]+)()"),
    "clone": re.compile(r"git clone https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?()()[\s\"']"),
}
ANY_REPOSITORY_ADDRESS = re.compile(r"(?:colab\.research\.google\.com/github|mybinder\.org/v2/gh|raw\.githubusercontent\.com"
                                    r"|github\.com)/([\w.-]+/[\w.-]+)")
MARKDOWN_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")


def _files_with_links() -> list[Path]:
    return [ROOT / "README.md", ROOT / "notebooks" / "README.md", *INSTRUCTOR, *STUDENT,
            *sorted((ROOT / "site").glob("*.md"))]


def _text(path: Path) -> str:
    """A file's text; a notebook's cell sources joined (links are in the sources, not in JSON escapes)."""
    if path.suffix == ".ipynb":
        return "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])
    return path.read_text()


def _addresses(text: str):
    for kind, pattern in ADDRESSES.items():
        for match in pattern.finditer(text):
            yield kind, *match.groups()


def test_every_link_and_install_names_the_one_repository_at_the_one_revision_and_an_existing_path():
    """The repository address comes only from [project.urls] (the slug), the revision only from
    scripts/colab_install_cell.py's REVISION, and every notebook or folder a link opens exists in the repository."""
    slug, found = _repository_slug(), 0
    for path in _files_with_links():
        text = _text(path)
        for repository in ANY_REPOSITORY_ADDRESS.findall(text):
            assert repository in (slug, "assets/colab-badge.svg"), f"{path.name}: an address of {repository}, not {slug}"
        for kind, repository, revision, target in _addresses(text):
            found += 1
            assert repository == slug, f"{path.name}: {kind} address of {repository}, not {slug}"
            if kind != "clone":
                assert revision == REVISION, f"{path.name}: {kind} address at {revision!r}, the notebooks use {REVISION!r}"
            if target:
                existing = ROOT / target.split("{", 1)[0]
                assert existing.exists() or existing.parent.is_dir() and "{" in target, f"{path.name}: {target} is not in the repository"
    assert found >= 2 * len(INSTRUCTOR) + 4


def _colab_targets(text: str) -> list[str]:
    return [match.group(3) for match in ADDRESSES["colab"].finditer(text)]


def test_each_notebooks_badge_opens_itself_and_the_instructor_edition_links_its_student_edition():
    assert [path.name for path in STUDENT] == [path.name for path in INSTRUCTOR], "python scripts/student_edition.py"
    for path in [*INSTRUCTOR, *STUDENT]:
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
        itself = path.relative_to(ROOT).as_posix()
        assert _colab_targets(first)[0] == itself, f"{itself}: its Colab badge opens {_colab_targets(first)[0]}"
    for path in INSTRUCTOR:
        text = _text(path)
        assert "**Instructor edition**" in text
        links = dict((target, label) for label, target in MARKDOWN_LINK.findall(text))
        assert links.get(f"student/{path.name}") == "student edition", f"{path.name}: no link to its student edition"
        assert set(_colab_targets(text)) == {f"notebooks/{path.name}", f"notebooks/student/{path.name}"}
    for path in STUDENT:
        text = _text(path)
        assert "**Student edition.**" in text and "Instructor edition" not in text
        assert set(_colab_targets(text)) == {f"notebooks/student/{path.name}"}, f"{path.name}: opens an instructor notebook"


def test_readme_links_open_the_edition_their_label_names():
    """A Colab or Binder link whose label says "student" opens the student edition, any other the instructor's."""
    links = [(label, target) for label, target in MARKDOWN_LINK.findall((ROOT / "README.md").read_text())
             if ADDRESSES["colab"].match(target) or ADDRESSES["binder"].match(target)]
    students = [target for label, target in links if "student" in label.lower()]
    assert students and all("notebooks/student" in target for target in students)
    assert all("notebooks/student" not in target for label, target in links if "student" not in label.lower())


def test_the_sites_launch_buttons_open_the_repository_at_the_notebooks_revision():
    conf = (ROOT / "site" / "conf.py").read_text()
    assert '"repository_branch": colab_install_cell.REVISION' in conf and 'REPOSITORY = PROJECT["urls"]["Repository"]' in conf


def test_readme_opens_with_the_main_and_test_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    commands = [line for line in first_block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ["bash scripts/main.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
