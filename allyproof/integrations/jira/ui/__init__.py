"""The Jira integration's pages: views, the webhook receiver's view and middleware, panels on monitoring's pages, columns, selectors."""
