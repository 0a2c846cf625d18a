"""The demo world of SandboxConfig.default(): two Jira sites, one account, a standard workflow."""

DEMO_AGENCY_ID = "3f0c9a52-7d1e-4b8a-9c2f-5e6d7a8b9c01"
OTHER_AGENCY_ID = "8b2e4d61-1a3c-4f5e-8d7b-0c9a1b2c3d02"
DANA_ACCOUNT_ID = "712020:5c1f3b2a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"

DEFAULT_WORLD = {
    "client_id": "allyproof-sandbox",
    "client_secret": "sandbox-client-secret",
    "accounts": [
        {"account_id": DANA_ACCOUNT_ID, "display_name": "Dana Admin", "email": "dana@demo-agency.example"},
    ],
    # Ids as a fresh Jira Cloud site numbers them.
    "issue_types": [
        {"id": "10001", "name": "Task", "description": "A small, distinct piece of work."},
        {"id": "10002", "name": "Story", "description": "A user-facing feature."},
        {"id": "10004", "name": "Bug", "description": "A problem or error."},
        {"id": "10003", "name": "Subtask", "subtask": True, "hierarchy_level": -1,
         "description": "A small piece of work that's part of a larger task."},
    ],
    "statuses": [
        {"id": "10000", "name": "To Do", "category": "new"},
        {"id": "3", "name": "In Progress", "category": "indeterminate"},
        {"id": "10001", "name": "Done", "category": "done"},
    ],
    "transitions": [
        {"id": "11", "name": "To Do", "to": "To Do"},
        {"id": "21", "name": "In Progress", "to": "In Progress"},
        {"id": "31", "name": "Done", "to": "Done"},
    ],
    "sites": [
        {
            "cloud_id": DEMO_AGENCY_ID, "name": "Demo Agency", "slug": "demo-agency",
            "url": "https://demo-agency.atlassian.net", "confluence": True,
            "projects": [
                {"id": "10000", "key": "ACME", "name": "Acme Corp website",
                 "issue_types": ["Bug", "Task", "Story", "Subtask"], "components": ["Website", "Checkout"]},
                {"id": "10001", "key": "BETA", "name": "Beta Shop", "issue_types": ["Task", "Story", "Subtask"]},
                {"id": "10002", "key": "WEB", "name": "Agency website", "issue_types": ["Bug", "Task", "Subtask"]},
            ],
        },
        {
            "cloud_id": OTHER_AGENCY_ID, "name": "Other Agency", "slug": "other-agency",
            "url": "https://other-agency.atlassian.net",
            "projects": [
                {"id": "10000", "key": "OPS", "name": "Operations", "issue_types": ["Bug", "Task", "Subtask"]},
            ],
        },
    ],
}
