"""Configuration errors: every problem with its full path, all reported at once."""

from __future__ import annotations

import attrs
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)


class ConfigValueError(ValueError):
    """A single invalid value; ``str(err)`` is shown after the path."""


class UnknownKeysError(ValueError):
    """Keys a configuration section does not define."""

    def __init__(self, section: str, unknown: list[str], allowed: list[str]) -> None:
        import difflib

        self.unknown = unknown
        self.allowed = allowed
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.7)
            hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
        plural = "s" if len(unknown) > 1 else ""
        super().__init__(
            f"unknown key{plural} {', '.join(hints)} in {section}; "
            f"allowed: {', '.join(allowed) if allowed else '(none)'}"
        )


@attrs.frozen
class Problem:
    """One configuration problem: a JSONPath-like location and a message."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(ValueError):
    """An invalid configuration; lists every problem found.

    Attributes
    ----------
    problems
        All problems, each with its path (``$.model.phy.params.nmul``).
    source
        File or description the configuration came from.
    """

    def __init__(self, problems: list[Problem], source: str = "configuration") -> None:
        self.problems = problems
        self.source = source
        n = len(problems)
        lines = [f"invalid configuration {source} ({n} problem{'s' if n != 1 else ''}):"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


def describe(value: object) -> str:
    """Short description of a value for error messages: type and repr."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and not isinstance(exc, ConfigValueError):
        return "required key missing"
    if isinstance(exc, (ConfigValueError, UnknownKeysError, ValueError, TypeError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def collect_problems(exc: BaseException, path: str = "$") -> list[Problem]:
    """Flatten a (nested) cattrs validation error into :class:`Problem` s."""
    if not isinstance(exc, BaseValidationError):
        return [Problem(path, _message(exc))]
    problems: list[Problem] = []
    for sub in exc.exceptions:
        sub_path = path
        for note in getattr(sub, "__notes__", []):
            if isinstance(exc, ClassValidationError) and type(note) is AttributeValidationNote:
                sub_path = f"{path}.{note.name}"
                break
            if isinstance(exc, IterableValidationError) and type(note) is IterableValidationNote:
                index = note.index
                sub_path = f"{path}[{index}]" if isinstance(index, int) else f"{path}.{index}"
                break
        problems.extend(collect_problems(sub, sub_path))
    return problems
