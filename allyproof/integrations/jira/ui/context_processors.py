from allyproof.integrations.jira.ui.selectors import connection_banner


def jira(request):
    membership = getattr(request, "membership", None)
    if membership is None or not membership.is_admin:
        return {}
    return {"jira_needs_reconnect": connection_banner(organization=membership.organization)}
