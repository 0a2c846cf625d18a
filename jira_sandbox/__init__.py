"""A faithful, stateful local stand-in for Atlassian OAuth 2.0 (3LO), Jira Cloud REST v3 and
dynamic webhooks. Imports nothing from allyproof and needs no Django."""
from .app import RequestRecord, Sandbox
from .clock import Clock
from .config import SandboxConfig
from .faults import SandboxConnectionReset, SandboxResponseDropped, SandboxTimeout
from .world import DANA_ACCOUNT_ID, DEMO_AGENCY_ID, OTHER_AGENCY_ID

__all__ = ["Sandbox", "SandboxConfig", "Clock", "RequestRecord", "SandboxTimeout", "SandboxConnectionReset",
           "SandboxResponseDropped", "DEMO_AGENCY_ID", "OTHER_AGENCY_ID", "DANA_ACCOUNT_ID"]
