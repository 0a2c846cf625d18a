"""The pacing gate is shared by processes, not just threads: two processes asking for slots on one Jira
site at once get slots an interval apart in the gate's own clock (no wall-clock measurement: each
process's clock is frozen and its sleep only records; see pacing_worker.py). A gate kept per process
would hand both processes the same slots."""

import json
import os
import subprocess
import sys
import time

import pytest
from django.db import connection as db

from tests.services import redis_url, require_postgres

T0, INTERVAL, PER_PROCESS = 1_000_000.0, 0.15, 20


def run_two(tmp_path, kind, *extra, env=None):
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "tests/jira/pacing_worker.py", kind, "site-a", str(PER_PROCESS),
                                 str(go), *extra], env=env or os.environ, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    go.touch()
    outputs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1][-800:] for o in outputs]
    return [json.loads(o[0].strip().splitlines()[-1]) for o in outputs]


def assert_shared(results):
    slots = sorted(slot for r in results for slot in r["slots"])
    assert len(slots) == 2 * PER_PROCESS and len({r["pid"] for r in results}) == 2
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert min(gaps) >= INTERVAL - 1e-6, sorted(gaps)[:3]  # no two slots closer than the interval
    assert slots == pytest.approx([T0 + i * INTERVAL for i in range(2 * PER_PROCESS)], abs=0.001)  # and none skipped


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_processes_share_the_database_gate(tmp_path):
    require_postgres()
    settings = db.settings_dict
    env = {**os.environ, "ALLYPROOF_TEST_DATABASE_URL": "",
           "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"}
    assert_shared(run_two(tmp_path, "db", env=env))


def test_two_processes_share_the_redis_gate(tmp_path):
    url = redis_url()
    prefix = f"allyproof-test:{time.time_ns()}:"
    try:
        assert_shared(run_two(tmp_path, "redis", url, prefix))
    finally:
        import redis

        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
