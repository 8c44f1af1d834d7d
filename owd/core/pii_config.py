"""The PII stage's configuration (here because the campaign config and the data cards read it;
the pseudonymisation itself is :mod:`owd.extract.pii`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["PII_KINDS", "PiiConfig", "PiiKind"]

PiiKind = Literal["email", "phone", "ip", "iban"]
PII_KINDS: tuple[PiiKind, ...] = ("email", "phone", "ip", "iban")


@dataclass
class PiiConfig:
    """Whether to pseudonymise, which kinds, and the secret salt of the placeholder hash."""

    enabled: bool = True
    kinds: list[PiiKind] = field(default_factory=lambda: list(PII_KINDS))
    # Keep it secret and fixed for a campaign: changing it changes every placeholder,
    # and an empty salt lets anyone recover phone numbers or IPs by brute force.
    salt: str = ""

    def check(self) -> None:
        """Raise ``ValueError("field: problem")`` for an unusable configuration."""
        unknown = [k for k in self.kinds if k not in PII_KINDS]
        if unknown:
            raise ValueError(f"kinds: unknown kind {unknown[0]!r}; known: {', '.join(PII_KINDS)}")
        if len(set(self.kinds)) != len(self.kinds):
            raise ValueError("kinds: a kind is listed twice")
        if self.enabled and not self.kinds:
            raise ValueError("kinds: give at least one kind, or set enabled: false")
