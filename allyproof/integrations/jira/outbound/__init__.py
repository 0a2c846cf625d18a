"""AllyProof to Jira: gates, issue content, the exactly-once push, jobs, pacing, the points budget, auto-push."""
