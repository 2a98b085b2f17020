"""Validation of user-given names (projects, entities).

A name may become a folder (projects) or appear in prompts (entities), so it must never act as a
path, carry control characters or be absurdly long. This module only validates; it stores nothing.
"""

from __future__ import annotations

import unicodedata

from .errors import InvalidNameError

MAX_NAME_LENGTH = 64


def validate_name(value: str, what: str = "name") -> str:
    """Return `value` stripped if it is a safe name, else raise with the reason and the fix."""
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} must be text, got {type(value).__name__}")
    name = value.strip()
    problem = _name_problem(name)
    if problem:
        raise InvalidNameError(f"invalid {what} {value!r}: {problem}")
    return name


def _name_problem(name: str) -> str | None:
    if not name:
        return "it is empty; give a short name such as 'Biscuit'"
    if len(name) > MAX_NAME_LENGTH:
        return f"it has {len(name)} characters; use at most {MAX_NAME_LENGTH}"
    if any(ch in name for ch in "/\\"):
        return "it contains a path separator ('/' or '\\'); remove it"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return "it contains a control or invisible character; type it again without it"
    if name in {".", ".."} or name.startswith("."):
        return "it starts with '.'; start with a letter or digit"
    return None
