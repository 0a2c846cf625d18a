"""The Jira blocks on monitoring's pages (declared in allyproof.core.plugs). Each template loads its
data through jira_tags, so monitoring's views know nothing of Jira."""

from allyproof.core.plugs import Panel

SITE_BLOCK = Panel(template="jira/_site_slot.html")  # the sync block and "when a scan fixes" setting
PUSH_BUTTON = Panel(template="jira/_push_slot.html")
SYNC_LOG = Panel(template="jira/_sync_log_slot.html")
