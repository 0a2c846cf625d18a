"""AllyProof to Jira: gates, issue content, the exactly-once push, jobs, auto-push, what a scan tells Jira."""
