"""python -m jira_sandbox serve --host 127.0.0.1 --port 8765 [--config world.json] [--state-file f]"""
from __future__ import annotations

import argparse
import logging
import os

from .app import Sandbox
from .config import SandboxConfig
from .serve import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jira_sandbox", description="Local Jira Cloud stand-in")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the sandbox over HTTP")
    s.add_argument("--host", default=os.environ.get("JIRA_SANDBOX_HOST", "127.0.0.1"))
    s.add_argument("--port", type=int, default=int(os.environ.get("JIRA_SANDBOX_PORT", "8765")))
    s.add_argument("--config", default=os.environ.get("JIRA_SANDBOX_CONFIG"), help="world JSON file")
    s.add_argument("--state-file", default=os.environ.get("JIRA_SANDBOX_STATE"),
                   help="persist the world here between runs")
    s.add_argument("--auto-approve", action="store_true", help="skip the consent page")
    s.add_argument("--index-delay", type=float, default=None, help="seconds before search sees a write (1.0)")
    s.add_argument("--public-url", default=None, help="base URL site pages are reachable at")
    s.add_argument("--deliver-to", default=None,
                   help="POST webhooks to this base URL (path kept; Host and X-Forwarded-Proto from the registered URL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = SandboxConfig.from_file(args.config) if args.config else SandboxConfig.default()
    if not args.config:
        cfg.timing.index_delay = 1.0  # the demo shows Jira's eventual consistency unless told otherwise
    cfg.with_env()
    if args.index_delay is not None:
        cfg.timing.index_delay = args.index_delay
    cfg.with_local_site_urls(args.public_url or f"http://{args.host}:{args.port}")
    cfg.state_file = args.state_file or cfg.state_file
    cfg.auto_approve = args.auto_approve or cfg.auto_approve
    sb = Sandbox(cfg)
    sb.deliver_to = args.deliver_to
    serve(sb, args.host, args.port)


if __name__ == "__main__":
    main()
