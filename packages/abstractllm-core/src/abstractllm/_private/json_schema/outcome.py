"""What checking one value against one schema found: a three-way verdict and its annotations.

``errors`` are violations the checker is sure of. ``unknown`` names the keywords it met and
could not check, which might have rejected the value. So the verdict is *invalid* when there
are errors, *valid* when there are neither, and *uncertain* otherwise: ``not`` turns valid into
invalid and back but leaves uncertain as it is, so a keyword that cannot be checked never turns
into a wrong rejection. ``properties`` and ``items`` are the names and indices of the value
that were evaluated, for ``unevaluatedProperties`` / ``unevaluatedItems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Outcome"]


@dataclass
class Outcome:
    """One check's ``errors``, ``unknown`` keywords and evaluated ``properties``/``items``."""

    errors: list[str] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    properties: set[str] = field(default_factory=set)
    items: set[int] = field(default_factory=set)

    @property
    def valid(self) -> bool:
        """Sure to be valid."""
        return not self.errors and not self.unknown

    @property
    def invalid(self) -> bool:
        """Sure to be invalid."""
        return bool(self.errors)

    def add(self, other: Outcome, *, annotations: bool = True) -> None:
        """Take ``other``'s findings; its annotations too when it judged the same value and may pass."""
        self.errors.extend(other.errors)
        self.unknown |= other.unknown
        if annotations and not other.invalid:
            self.properties |= other.properties
            self.items |= other.items
