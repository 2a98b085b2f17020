"""What every settings dataclass shares: loading from a dict and applying command-line flags.

Owns `option` (a field with its help text) and `Settings`, a mixin for frozen dataclasses: `from_dict` refuses unknown keys with the list of
known ones, and `merged` applies the flags a user gave (None = not given). Light: no imports beyond
the standard library.
"""

from __future__ import annotations

from dataclasses import field, fields, replace

from .errors import ConfigError


def option(default, help: str, **metadata):
    """A settings field with its help text (what the CLI's --help and the docs show)."""
    return field(default=default, metadata={"help": help, **metadata})


class Settings:
    """Mixin for a frozen settings dataclass; `_what` names it in errors ("training", "check")."""

    _what = "setting"

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown {cls._what} setting(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")
        return cls(**data)

    def merged(self, **changes):
        """A copy with `changes` applied, skipping None values (flags the user did not give)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **given) if given else self
