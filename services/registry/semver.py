"""Semantic versions (semver.org 2.0.0): parsing and precedence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after its pre-releases; numeric identifiers sort
        # numerically and before alphanumeric ones.
        identifiers = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, identifiers)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()


def parse(text: str) -> Version | None:
    """The version ``text`` names, None if it is not a semantic version. Build metadata is ignored."""
    match = _SEMVER.fullmatch(text)
    if match is None:
        return None
    prerelease = tuple(match.group(4).split(".")) if match.group(4) else ()
    if any(p.isdigit() and len(p) > 1 and p.startswith("0") for p in prerelease):
        return None
    return Version(int(match.group(1)), int(match.group(2)), int(match.group(3)), prerelease)


def sort_key(text: str) -> Version:
    parsed = parse(text)
    if parsed is None:
        raise ValueError(f"not a semantic version: {text!r}")
    return parsed
