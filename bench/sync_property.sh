#!/bin/sh
# The sync-back property test's long profile: random schedules (no fixed seed), EXAMPLES of them
# (2,000 unless told), under nice; prints the start and end, the load average and pytest's verdict.
#   bench/sync_property.sh [EXAMPLES]
# Hypothesis prints each failing schedule's steps and its reproduce blob. Each schedule that passed
# its checks adds a line to $progress, so a run stopped early still says how many it checked.
set -eu
cd "$(dirname "$0")/.."
examples="${1:-2000}"
echo "sync property, long profile: $examples examples; start $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(uptime)"
start=$(date +%s)
status=0
progress="${ALLYPROOF_PROPERTY_PROGRESS:-$(mktemp)}"
echo "progress: $progress (one line per schedule checked)"
ALLYPROOF_PROPERTY_PROGRESS="$progress" ALLYPROOF_HYPOTHESIS_PROFILE=long ALLYPROOF_PROPERTY_EXAMPLES="$examples" nice -n 10 .venv/bin/python -m pytest \
    tests/jira/test_sync_property.py -q -p no:randomly -p no:logging --hypothesis-show-statistics || status=$?
echo "schedules checked: $(wc -l < "$progress")"
echo "end $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(( $(date +%s) - start )) s; $(uptime); pytest exit $status"
exit "$status"
