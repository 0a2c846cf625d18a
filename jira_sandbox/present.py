"""How Jira renders issues, statuses, users and comments in REST v3 responses and webhook bodies."""
from __future__ import annotations

from typing import Any

from .clock import jira_time
from .config import STATUS_CATEGORIES, Account, IssueType, Project, SandboxConfig, Site, Status
from .state import Comment, Issue

NAVIGABLE = ["summary", "status", "issuetype", "project", "labels", "description", "created", "updated",
             "statuscategorychangedate", "resolution", "resolutiondate", "reporter", "creator",
             "assignee", "priority", "comment"]
PRIORITY_MEDIUM = {"id": "3", "name": "Medium"}


def user_json(site: Site, account: Account | None, account_id: str) -> dict[str, Any]:
    return {
        "self": f"{site.url}/rest/api/3/user?accountId={account_id}",
        "accountId": account_id,
        "displayName": account.display_name if account else "Former user",
        "active": account is not None,
        "accountType": "atlassian",
        "timeZone": "Etc/UTC",
        "avatarUrls": {"48x48": f"{site.url}/avatar/{account_id}.png"},
    }


def status_category_json(site: Site, category: str) -> dict[str, Any]:
    cat = STATUS_CATEGORIES[category]
    return {"self": f"{site.url}/rest/api/3/statuscategory/{cat['id']}", **cat}


def status_json(site: Site, status: Status) -> dict[str, Any]:
    return {
        "self": f"{site.url}/rest/api/3/status/{status.id}",
        "description": "",
        "iconUrl": f"{site.url}/images/icons/statuses/generic.png",
        "name": status.name,
        "id": status.id,
        "statusCategory": status_category_json(site, status.category),
    }


def issuetype_json(site: Site, it: IssueType) -> dict[str, Any]:
    return {
        "self": f"{site.url}/rest/api/3/issuetype/{it.id}",
        "id": it.id, "name": it.name, "description": it.description, "subtask": it.subtask,
        "hierarchyLevel": it.hierarchy_level, "avatarId": 10300,
        "iconUrl": f"{site.url}/rest/api/2/universal_avatar/view/type/issuetype/avatar/10300",
    }


def project_ref_json(site: Site, project: Project) -> dict[str, Any]:
    return {
        "self": f"{site.url}/rest/api/3/project/{project.id}",
        "id": project.id, "key": project.key, "name": project.name,
        "projectTypeKey": "software", "simplified": False,
        "avatarUrls": {"48x48": f"{site.url}/rest/api/3/universal_avatar/view/type/project/avatar/10400"},
    }


def project_json(cfg: SandboxConfig, site: Site, project: Project) -> dict[str, Any]:
    types = [issuetype_json(site, cfg.issue_type(n)) for n in project.issue_types if cfg.issue_type(n)]
    lead = cfg.accounts[0] if cfg.accounts else None
    return {
        **project_ref_json(site, project),
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "description": "", "assigneeType": "UNASSIGNED", "isPrivate": False, "style": "classic",
        "issueTypes": types, "properties": {}, "components": [], "versions": [],
        "lead": user_json(site, lead, lead.account_id) if lead else None,
    }


def comment_json(cfg: SandboxConfig, site: Site, issue: Issue, c: Comment) -> dict[str, Any]:
    author = user_json(site, cfg.account(c.author_id), c.author_id)
    return {
        "self": f"{site.url}/rest/api/3/issue/{issue.id}/comment/{c.id}",
        "id": c.id, "author": author, "updateAuthor": author, "body": c.body,
        "created": jira_time(c.created), "updated": jira_time(c.updated), "jsdPublic": True,
    }


def issue_fields(cfg: SandboxConfig, site: Site, issue: Issue, project: Project) -> dict[str, Any]:
    """Every field of the issue (fields=*all)."""
    status = cfg.status_by_id(issue.status_id)
    reporter = user_json(site, cfg.account(issue.reporter_id), issue.reporter_id)
    comments = [comment_json(cfg, site, issue, c) for c in issue.comments]
    resolution = None
    if issue.resolution:
        resolution = {"self": f"{site.url}/rest/api/3/resolution/10000", "id": "10000",
                      "name": issue.resolution, "description": "Work has been completed on this issue."}
    fields = {
        "summary": issue.summary,
        "status": status_json(site, status),
        "issuetype": issuetype_json(site, cfg.issue_type(issue.issuetype_id)),
        "project": project_ref_json(site, project),
        "labels": list(issue.labels),
        "description": issue.description,
        "created": jira_time(issue.created),
        "updated": jira_time(issue.updated),
        "statuscategorychangedate": jira_time(issue.status_changed),
        "resolution": resolution,
        "resolutiondate": jira_time(issue.resolution_date) if issue.resolution_date else None,
        "reporter": reporter, "creator": reporter, "assignee": None,
        "priority": {"self": f"{site.url}/rest/api/3/priority/3", **PRIORITY_MEDIUM},
        "comment": {"comments": comments, "self": f"{site.url}/rest/api/3/issue/{issue.id}/comment",
                    "maxResults": len(comments), "total": len(comments), "startAt": 0},
    }
    fields.update(issue.other_fields)
    return fields


def select_fields(all_fields: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    """Jira's `fields` parameter: *all, *navigable, names, and -name exclusions."""
    if wanted is None:
        return all_fields
    include: set[str] = set()
    for item in wanted:
        item = item.strip()
        if item in ("*all", "*navigable"):
            include |= set(all_fields)
        elif item and not item.startswith("-"):
            include.add(item)
    include -= {w.strip()[1:] for w in wanted if w.strip().startswith("-")}
    return {k: v for k, v in all_fields.items() if k in include}


def issue_json(cfg: SandboxConfig, site: Site, issue: Issue, project: Project, *,
               fields: list[str] | None = None, api: str = "3") -> dict[str, Any]:
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id,
        "self": f"{site.url}/rest/api/{api}/issue/{issue.id}",
        "key": issue.key,
        "fields": select_fields(issue_fields(cfg, site, issue, project), fields),
    }


def parse_fields_param(values: list[str] | None) -> list[str] | None:
    """`fields` comes as repeated and/or comma-separated values."""
    if not values:
        return None
    return [f for v in values for f in v.split(",") if f.strip()]
