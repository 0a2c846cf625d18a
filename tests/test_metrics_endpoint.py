"""/metrics: Prometheus text for loopback or the token holder, 403 for everyone else; in multiprocess
mode (gunicorn, several consumers) a scrape adds up every process's counts."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOKEN = "metrics-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.django_db
def test_loopback_without_a_token_is_answered(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    from huey.contrib.djhuey import HUEY

    assert f"allyproof_queue_pending {float(HUEY.pending_count())}" in text  # read from Huey at scrape time
    for name in ("allyproof_jira_issues_created_total",
                 "# TYPE allyproof_jira_request_seconds histogram", "allyproof_jira_duplicates_repaired_total"):
        assert name in text


@pytest.mark.django_db
@pytest.mark.parametrize("remote", ["10.0.0.5", "192.168.1.20", "2001:db8::1"])
def test_other_clients_without_a_token_are_refused(client, remote):
    response = client.get("/metrics", REMOTE_ADDR=remote)
    assert response.status_code == 403
    assert b"allyproof_" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("authorization", "status"),
    [(f"Bearer {TOKEN}", 200), ("Bearer wrong-token-0123456789abcdef", 403), ("", 403), (TOKEN, 200)],
)
def test_with_a_token_only_its_holder_is_answered_even_on_loopback(client, settings, authorization, status):
    settings.OPS = dataclasses.replace(settings.OPS, metrics_token=TOKEN)
    headers = {"Authorization": authorization} if authorization else {}
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", headers=headers).status_code == status


COUNT_IN_A_PROCESS = """
from allyproof.core import metrics
metrics.push_item("pushed")
metrics.push_item("pushed")
metrics.pause("site", "jira-burst-based")
"""


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(3):  # three worker processes, each counting on its own
        subprocess.run([sys.executable, "-c", COUNT_IN_A_PROCESS], cwd=ROOT, env=env, check=True, timeout=60)
    scrape = "from allyproof.core import metrics; import sys; sys.stdout.write(metrics.render()[0].decode())"
    done = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + scrape], cwd=ROOT,
                          env={**env, "DJANGO_SETTINGS_MODULE": "allyproof.settings"}, capture_output=True,
                          text=True, timeout=60, check=True)
    assert 'allyproof_jira_push_items_total{outcome="pushed"} 6.0' in done.stdout
    assert 'allyproof_jira_pauses_total{reason="jira-burst-based",scope="site"} 3.0' in done.stdout
