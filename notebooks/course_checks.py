"""Feedback for the notebooks' exercises: each check prints one "✓ ..." line, or raises CheckFailed (an AssertionError)
whose message names what differs (shape, the largest error and where, the wrong choice) and a hint. Jupyter shows a
failed check as that message alone, without a traceback (IPython renders an exception through its
`_render_traceback_`), since the traceback would only point into this file.

Course scaffolding, kept out of the library on purpose: the library computes, these helpers only judge a student's
answer against the library's (or a measured) reference. They take anything numpy can read: tensors (on any device,
with or without gradients), arrays, numbers, nested lists.
"""

import math

import numpy as np

__all__ = ["CheckFailed", "check_call", "check_close", "check_prediction"]


class CheckFailed(AssertionError):
    """A failed check: Jupyter shows its message, not the traceback (scripts/grade.py reads it the same way)."""

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


def _as_array(value, role: str, what: str) -> np.ndarray:
    if value is None:
        raise CheckFailed(f"✗ {what}: {role} is None; did the function forget to `return` its result?")
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"✗ {what}: {role} is a {type(value).__name__}, not numbers ({error})") from None


def _with_hint(message: str, hint: str | None) -> str:
    return f"{message}\n  hint: {hint}" if hint else message


def check_call(function, arguments: tuple, reference_value, what: str, hint: str | None = None, **tolerances) -> None:
    """Calls the student's ``function(*arguments)`` and compares the result as :func:`check_close` does; an error
    raised by the student's code (a shape or broadcasting mistake, an index out of range) fails the check with that
    error's message and the hint, instead of a traceback into PyTorch. NotImplementedError (an exercise not answered
    yet) passes through unchanged."""
    try:
        student_value = function(*arguments)
    except NotImplementedError:
        raise
    except Exception as error:  # any error of the student's code is feedback, not a crash of the check
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise CheckFailed(_with_hint(f"✗ {what}: your code raised {type(error).__name__}: {first_line}", hint)) from None
    check_close(student_value, reference_value, what, hint, **tolerances)


def check_close(student_value, reference_value, what: str, hint: str | None = None,
                rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """Passes (prints "✓ ...") when ``student_value`` has the reference's shape and every entry is within
    ``atol + rtol·|reference|``; else raises CheckFailed naming the shapes, the NaNs or the worst entry."""
    student = _as_array(student_value, "your value", what)
    reference = _as_array(reference_value, "the reference", what)
    if student.shape != reference.shape:
        raise CheckFailed(_with_hint(
            f"✗ {what}: shape {student.shape} (yours) differs from {reference.shape} (expected)", hint))
    misplaced_nan = np.isnan(student) & ~np.isnan(reference)
    if misplaced_nan.any():
        first = tuple(int(i) for i in np.argwhere(misplaced_nan)[0])
        raise CheckFailed(_with_hint(
            f"✗ {what}: {int(misplaced_nan.sum())} NaN entries where the reference has numbers, first at index {first}",
            hint))
    error = np.where(np.isnan(reference), 0.0, np.abs(student - reference))
    tolerance = atol + rtol * np.abs(np.nan_to_num(reference))
    largest = float(error.max()) if error.size else 0.0
    if (error > tolerance).any():
        worst = np.unravel_index(int(np.argmax(error - tolerance)), error.shape)
        index = tuple(int(i) for i in worst)
        raise CheckFailed(_with_hint(
            f"✗ {what}: {int((error > tolerance).sum())} of {error.size} entries differ; the worst at index {index}: "
            f"yours {student[worst]:.6g}, expected {reference[worst]:.6g} (max abs error {largest:.3g})", hint))
    print(f"✓ {what}: matches, shape {reference.shape}, max abs error {largest:.1e}")


def check_prediction(prediction, choices: dict[str, float], measured: float, what: str,
                     why: str | None = None, judged: bool = True) -> None:
    """A "predict, then run" question: ``choices`` maps each option to the value it stands for; the right option is
    the one nearest to ``measured`` on a log scale (orders of magnitude). Prints "✓ ..." for it; raises
    CheckFailed if ``prediction`` is not an option or not the right one, saying what was measured and why.

    ``judged=False`` is for a run whose parameters differ from the lesson's (``claims.at_defaults``): the question
    is about the lesson's defaults, so the answer is still refused if it is not an option, but only compared, not
    judged, against what this run measured.
    """
    key = str(prediction).strip().lower()
    if key not in choices:
        raise CheckFailed(f"✗ {what}: answer with one of {sorted(choices)}, not {prediction!r}")
    right = min(choices, key=lambda option: abs(math.log10(choices[option]) - math.log10(measured)))
    if not judged:
        print(f"not judged (parameters changed): {what}: you predicted ({key}); this run measured {measured:.3g}, "
              f"i.e. ({right}); the question is about the lesson's default parameters")
        return
    if key != right:
        raise CheckFailed(_with_hint(
            f"✗ {what}: you predicted ({key}) ≈ {choices[key]:g}; measured {measured:.3g}, i.e. ({right})", why))
    print(f"✓ {what}: ({right}) ≈ {choices[right]:g}; measured {measured:.3g}")
