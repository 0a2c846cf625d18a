"""What a Jira REST handler receives once the gateway has authenticated the call."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import Site
from .state import SiteState

if TYPE_CHECKING:
    from .app import Sandbox


@dataclass
class JiraCall:
    sb: Sandbox
    site: Site
    site_state: SiteState
    account_id: str
    params: dict[str, str]
    conformance: list[str] = field(default_factory=list)  # ADF-schema mismatches found by the handler
    points: int = 1  # Atlassian's cost: base 1, plus 1 per core object a read returns

    @property
    def cloud_id(self) -> str:
        return self.site.cloud_id

    @property
    def issues(self) -> Any:
        return self.sb.jira
