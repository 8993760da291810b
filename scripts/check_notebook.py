"""Checks one notebook's exercises as the instructor grades them (scripts/grade.py): runs it in a fresh kernel with
the instructor's checks and prints ✓ or ✗ and the check's message for each exercise, then the points.

Usage: python scripts/check_notebook.py notebooks/student/01_projection_jacobians.ipynb   (exit 0 when all pass)
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts, also when a test imports this file
import grade  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default: 600)")
    arguments = parser.parse_args(argv)
    try:
        results = grade.grade_notebook(arguments.notebook, timeout=arguments.timeout)
    except FileNotFoundError as error:
        print(f"check_notebook: {error}", file=sys.stderr)
        return 2
    for result in results:
        mark = "✓" if result.passed else "✗"
        lines = result.message.removeprefix("✓ ").removeprefix("✗ ").splitlines() or [""]
        print(f"{mark} exercise {result.exercise.number}: " + "\n    ".join(lines))
    passed = sum(result.passed for result in results)
    print(f"{arguments.notebook.name}: {passed} of {len(results)} exercises pass")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
