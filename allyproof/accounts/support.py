"""Support: where to ask for help, and a diagnostics block a person can paste into a request.

Apps add their part through allyproof.core.plugs.SUPPORT_DIAGNOSTICS (the Jira app adds the connection's
recent exchanges). Providers must never return secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from allyproof.core import plugs

from .models import Organization

Section = tuple[str, list[str]]  # (heading, lines)
Provider = Callable[[Organization], list[Section]]


@dataclass(frozen=True)
class Contact:
    kind: str  # "email", "url" or ""
    value: str

    @property
    def href(self) -> str:
        return f"mailto:{self.value}" if self.kind == "email" else self.value


def contact(configured: str) -> Contact:
    value = configured.strip()
    if not value:
        return Contact("", "")
    return Contact("url" if value.startswith(("https://", "http://")) else "email", value)


def diagnostics(*, organization: Organization, when: str) -> str:
    lines = [f"AllyProof diagnostics for {organization.name} (organization {organization.pk})",
             f"Generated {when}", f"Time zone: {organization.time_zone}"]
    for provider in plugs.plugged(plugs.SUPPORT_DIAGNOSTICS):
        for heading, body in provider(organization):
            lines += ["", f"## {heading}", *(body or ["(nothing)"])]
    return "\n".join(lines)
