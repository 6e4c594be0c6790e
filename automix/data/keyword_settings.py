"""Typed settings that a function also takes as keywords (torch-free, stdlib only).

A settings class is a frozen dataclass inheriting :class:`KeywordSettings` (overriding
:meth:`~KeywordSettings.check` to validate itself); the function takes ``settings=None,
**options`` and calls ``Cls.of(settings, options)``, as :func:`automix.mix` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any, ClassVar, TypeVar

__all__ = ["KeywordSettings"]

S = TypeVar("S", bound="KeywordSettings")


class KeywordSettings:
    """Mixin of a frozen dataclass of options; :attr:`what` names them in error messages."""

    what: ClassVar[str] = "settings"

    @classmethod
    def of(cls: type[S], settings: S | None, options: Mapping[str, Any]) -> S:  # noqa: PYI019 (no Self in 3.10)
        """``settings`` (default: all defaults) with ``options`` replaced, checked; unknown names
        raise TypeError naming the known ones."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown {cls.what} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(settings or cls(), **options).check()  # type: ignore[type-var]

    def check(self: S) -> S:
        """Raise for a value out of range; return the settings to use (here: as they are)."""
        return self
