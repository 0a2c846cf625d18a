"""What the connection can create issues in, for the sync-rules form: projects (key and name) and each
project's issue types, read from Jira and kept a few minutes so the page stays quick."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from allyproof.integrations.jira.connection.client import JiraClient
from allyproof.integrations.jira.connection.errors import JiraError
from allyproof.integrations.jira.models import JiraConnection
from allyproof.integrations.jira.outbound.triage import offered

CACHE_SECONDS = 300  # short: a project created in Jira shows here within five minutes


@dataclass(frozen=True)
class ProjectChoice:
    key: str
    name: str


@dataclass(frozen=True)
class ProjectList:
    projects: tuple[ProjectChoice, ...]
    problem: str = ""  # why the list could not be read; a typed key still works


def _key(connection: JiraConnection, what: str) -> str:
    return f"jira:{connection.pk}:{connection.cloud_id}:{what}"


def creatable_projects(*, connection: JiraConnection, client: JiraClient) -> ProjectList:
    cached = cache.get(_key(connection, "projects"))
    if cached is not None:
        return cached
    try:
        found = client.search_projects(action="create")
    except JiraError as problem:
        return ProjectList((), f"Couldn't read your projects from Jira ({problem}); type a project key instead.")
    result = ProjectList(tuple(sorted((ProjectChoice(str(p["key"]), str(p.get("name", p["key"])))
                                       for p in found if p.get("key")), key=lambda p: p.name.lower())))
    cache.set(_key(connection, "projects"), result, CACHE_SECONDS)
    return result


def issue_type_names(*, connection: JiraConnection, client: JiraClient, project_key: str) -> list[str]:
    """The standard (non-subtask) issue types of a project, as Jira's createmeta lists them; [] if unknown."""
    key = _key(connection, f"types:{project_key}")
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        names = [t["name"] for t in client.create_meta_issue_types(project_key) if not t.get("subtask")]
    except JiraError:
        return []
    cache.set(key, names, CACHE_SECONDS)
    return names


def create_offer(*, connection: JiraConnection, client: JiraClient, project_key: str, issue_type_id: str):
    """Priorities and components the project's create screen offers for that issue type, or None."""
    from allyproof.integrations.jira.outbound.triage import offered

    key = _key(connection, f"offer:{project_key}:{issue_type_id}")
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        offer = offered(client.create_meta_fields(project_key, issue_type_id))
    except JiraError:
        return None
    cache.set(key, offer, CACHE_SECONDS)
    return offer


def forget(*, connection: JiraConnection) -> None:
    """After a save the admin expects what Jira says now."""
    cache.delete(_key(connection, "projects"))
