"""A separate process that asks the pacing gate for slots (run by test_pacing_processes.py).

argv: db|redis, site, count, go-file, [redis url, key prefix]. The gate's clock is frozen at T0 and
its sleep only records, so the slots it grants are exact numbers in the gate's own clock, whatever the
machine's scheduling: slot = T0 + what the gate told this caller to wait. Prints them as JSON.
"""

import json
import os
import sys
import time

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "allyproof.settings"
django.setup()

from allyproof.integrations.jira.connection import pacing  # noqa: E402

T0, INTERVAL = 1_000_000.0, 0.15
kind, site, count, go_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
told: list[float] = []
if kind == "db":
    gate = pacing.DatabaseGate(interval=INTERVAL, clock=lambda: T0, sleep=told.append)
else:
    gate = pacing.RedisGate(url=sys.argv[5], prefix=sys.argv[6], interval=INTERVAL, clock=lambda: T0, sleep=told.append)
deadline = time.monotonic() + 30
while not os.path.exists(go_file) and time.monotonic() < deadline:
    time.sleep(0.005)
slots = []
for _ in range(count):
    before = len(told)
    gate.wait(site)
    slots.append(T0 + sum(told[before:]))
print(json.dumps({"pid": os.getpid(), "slots": slots}), flush=True)
