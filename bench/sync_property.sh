#!/bin/sh
# The sync-back property test's long profile: random schedules (no fixed seed), EXAMPLES of them
# (2,000 unless told), under nice; prints the start and end, the load average and pytest's verdict.
#   bench/sync_property.sh [EXAMPLES]
# Hypothesis prints each failing schedule's steps and its reproduce blob. Its statistics
# (--hypothesis-show-statistics) give the examples run and the time per example.
set -eu
cd "$(dirname "$0")/.."
examples="${1:-2000}"
echo "sync property, long profile: $examples examples; start $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(uptime)"
start=$(date +%s)
status=0
ALLYPROOF_HYPOTHESIS_PROFILE=long ALLYPROOF_PROPERTY_EXAMPLES="$examples" nice -n 10 .venv/bin/python -m pytest \
    tests/jira/test_sync_property.py -q -p no:randomly -p no:logging --hypothesis-show-statistics || status=$?
echo "end $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(( $(date +%s) - start )) s; $(uptime); pytest exit $status"
exit "$status"
