"""Writes Binder's environment.yml from the environment CI tested: Python's version and an exact pin (`name==version`)
of every package that running the notebooks needs, i.e. the library's runtime dependencies and the `[notebooks]`
extra of pyproject.toml with all that they require in turn, at the versions installed in this environment (CI's
.venv), the way `pip freeze` reports them. Test-only packages stay out, unless something the notebooks need requires
them. PyTorch comes from its CPU wheel index, as scripts/setup.sh installs it (PyPI's Linux wheel pulls CUDA).
tests/test_project.py checks that environment.yml is what this script writes from the environment the tests run in.

Usage: python scripts/binder_lock.py [--check]   (--check: write nothing, exit 1 if environment.yml would change)
"""

import argparse
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT = ROOT / "environment.yml"
EXTRAS = ("notebooks",)
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def _top_level() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"] + [r for e in EXTRAS for r in project["optional-dependencies"][e]]]


def _wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras or {""})


def closure() -> dict[str, str]:
    """Canonical name -> installed version of every package the top-level requirements need, transitively."""
    pinned, queue = {}, [(requirement, set()) for requirement in _top_level()]
    while queue:
        requirement, extras = queue.pop()
        name = canonicalize_name(requirement.name)
        if name in pinned and not requirement.extras:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(f"binder_lock: {name} is required but not installed here (run scripts/setup.sh)") from None
        pinned[name] = distribution.version
        wanted_extras = set(requirement.extras)
        for text in distribution.requires or []:
            needed = Requirement(text)
            if _wanted(needed, wanted_extras) and canonicalize_name(needed.name) not in pinned:
                queue.append((needed, set(needed.extras)))
    return dict(sorted(pinned.items()))


def environment_yml(pins: dict[str, str]) -> str:
    lines = [
        "# Binder's environment (repo2docker), written by scripts/binder_lock.py from the environment CI tested: Python",
        "# and an exact pin of every package the notebooks need (the runtime dependencies and the [notebooks] extra, with",
        "# what they require), no test-only packages. The kit itself is installed by postBuild. Do not edit by hand:",
        "# run python scripts/binder_lock.py (tests/test_project.py checks it).",
        "name: weakpose-lite",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={sys.version_info.major}.{sys.version_info.minor}",
        "  - pip",
        "  - pip:",
        f"      - --extra-index-url {TORCH_INDEX}",
        *(f"      - {name}=={version}" for name, version in pins.items()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    arguments = parser.parse_args(argv)
    expected = environment_yml(closure())
    if arguments.check:
        if ENVIRONMENT.read_text() != expected:
            print("environment.yml is not what CI's environment gives: run python scripts/binder_lock.py")
            return 1
        return 0
    temporary = ENVIRONMENT.with_name(".environment.yml.tmp")
    temporary.write_text(expected)
    temporary.replace(ENVIRONMENT)
    print(f"environment.yml: python and {expected.count('==')} pinned packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
