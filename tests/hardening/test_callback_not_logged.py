"""Issue 13, case 7c: the OAuth callback's query string (the authorization code) never reaches an access log."""

import logging
import os
import re
import subprocess
import sys
import threading

import httpx
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

CODE = "AUTHCODE-d3adb33f-never-log-me"
CALLBACK = f"/settings/integrations/jira/callback/?code={CODE}&state=some-state-value"


def test_runserver_logs_the_callback_without_its_query(caplog, db):
    caplog.set_level(logging.INFO, logger="django.server")
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)  # what `manage.py runserver` serves with
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = httpx.get(f"http://127.0.0.1:{server.server_port}{CALLBACK}", timeout=20)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 302  # not signed in: to the sign-in page
    lines = [r.getMessage() for r in caplog.records if r.name == "django.server"]
    assert any("/settings/integrations/jira/callback/?[query not logged]" in line for line in lines), lines
    assert not any(CODE in r.getMessage() or "some-state-value" in r.getMessage() for r in caplog.records)


def test_gunicorn_access_log_has_the_callback_without_its_query(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALLYPROOF_", "DATABASE_URL", "REDIS_URL"))}
    env.update(ALLYPROOF_ENV="test", ALLYPROOF_DATA_DIR=str(tmp_path), ALLYPROOF_PUBLIC_URL="http://127.0.0.1")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "allyproof.wsgi", "-b", "127.0.0.1:0", "-w", "1",
         "--access-logfile", "-", "--error-logfile", "-"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for line in server.stdout:  # "Listening at: http://127.0.0.1:PORT"
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
            if "Booting worker" in line:
                break
        assert port, "gunicorn did not start"
        response = httpx.get(f"http://127.0.0.1:{port}{CALLBACK}", timeout=60)
        assert response.status_code == 302
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "/settings/integrations/jira/callback/?[query not logged]" in output, output[-2000:]
    assert CODE not in output and "some-state-value" not in output
