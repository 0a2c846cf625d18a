"""`./dev run`: the whole product on one machine, on its embedded default.

Prepares the database and the seeded demo, then runs the web app, one Huey worker (with the
periodic scheduler) and — unless real Atlassian credentials are configured — the Jira Cloud
sandbox on loopback, pointing AllyProof at it. Ctrl-C stops them all; if one of them dies the
others are stopped too, so nothing is left half-running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
WEB_PORT = int(os.environ.get("ALLYPROOF_PORT", "8000"))
SANDBOX_PORT = int(os.environ.get("JIRA_SANDBOX_PORT", "8001"))
# The demo's client websites (scripts/demo_sites.py), so "Scan now" works offline; two ports from here.
DEMO_SITES_PORT = int(os.environ.get("ALLYPROOF_DEMO_SITES_PORT", "8010"))


def environment() -> tuple[dict[str, str], bool]:
    env = dict(os.environ)
    env.setdefault("ALLYPROOF_PUBLIC_URL", f"http://127.0.0.1:{WEB_PORT}")
    use_sandbox = not env.get("ATLASSIAN_CLIENT_ID")
    if use_sandbox:
        sandbox = f"http://127.0.0.1:{SANDBOX_PORT}"
        env.update(
            ATLASSIAN_AUTH_URL=sandbox, ATLASSIAN_API_URL=sandbox,
            ATLASSIAN_CLIENT_ID="allyproof-sandbox", ATLASSIAN_CLIENT_SECRET="sandbox-client-secret",
        )
    return env, use_sandbox


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    env, use_sandbox = environment()
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "allyproof_seed_demo")
    manage(env, "allyproof_demo_sites", "--port", str(DEMO_SITES_PORT))
    data_dir = Path(env.get("ALLYPROOF_DATA_DIR") or ROOT / "var")
    processes = {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{WEB_PORT}", "--noreload"],
        "worker": [PYTHON, "manage.py", "run_huey", "--workers", "2", "--worker-type", "thread"],
        "demo-sites": [PYTHON, "scripts/demo_sites.py", "--port", str(DEMO_SITES_PORT)],
    }
    if use_sandbox:
        processes["jira-sandbox"] = [
            PYTHON, "-m", "jira_sandbox", "serve", "--host", "127.0.0.1", "--port", str(SANDBOX_PORT),
            "--state-file", str(data_dir / "jira-sandbox.json"),
        ]
    running = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in processes.items()}
    print(f"\nAllyProof is running at http://127.0.0.1:{WEB_PORT}/ (sign in with a demo account above)")
    if use_sandbox:
        print(f"Jira Cloud sandbox at http://127.0.0.1:{SANDBOX_PORT}/ (Connect Jira uses it; no Atlassian account needed)")
    print(f"Demo client sites at http://127.0.0.1:{DEMO_SITES_PORT}/ and :{DEMO_SITES_PORT + 1}/ (their /_demo/ page fixes a problem)")
    print("Press Ctrl-C to stop everything.\n", flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in running.items():
            if process.poll() is not None:
                print(f"run: {name} exited with {process.returncode}; stopping the rest", file=sys.stderr)
                exit_code, stopping = 1, True
                break
        time.sleep(0.3)
    for process in running.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    for process in running.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
