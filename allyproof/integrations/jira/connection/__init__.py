"""Connecting a Jira Cloud site: OAuth, the token vault, webhook registration, the client's transport."""
