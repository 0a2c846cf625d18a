"""Connecting a Jira Cloud site and talking to it: OAuth, the token vault, webhook registration, the client, the pacing gate, the points budget."""
