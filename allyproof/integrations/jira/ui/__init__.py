"""The Jira integration's pages: views, panels on monitoring's pages, columns, words."""
