"""Serve the sandbox over HTTP (threaded wsgiref) with a background webhook-delivery thread.

Connection faults become real socket behaviour here: a timeout hangs then closes, a reset sends a
TCP RST, a dropped response closes the connection before any byte of the answer."""
from __future__ import annotations

import logging
import socket
import struct
import sys
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from .app import Sandbox
from .faults import SandboxConnectionReset, SandboxResponseDropped, SandboxTimeout

log = logging.getLogger("jira_sandbox")
SOCKET_KEY = "jira_sandbox.socket"


class _FaultAwareHandler(ServerHandler):
    def handle_error(self) -> None:
        exc = sys.exc_info()[1]
        sock = self.environ.get(SOCKET_KEY)
        if isinstance(exc, SandboxTimeout):
            time.sleep(getattr(exc, "hang_seconds", 30.0))
        elif isinstance(exc, SandboxConnectionReset) and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        elif not isinstance(exc, SandboxResponseDropped):
            super().handle_error()
        # for drop/timeout: write nothing; the server closes the connection after us


class _RequestHandler(WSGIRequestHandler):
    def get_environ(self) -> dict:
        env = super().get_environ()
        env[SOCKET_KEY] = self.connection
        return env

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536 or not self.parse_request():
            return
        handler = _FaultAwareHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(),
                                     multithread=True)
        handler.request_handler = self
        try:
            handler.run(self.server.get_app())
        except OSError:
            pass  # the socket was reset on purpose

    def log_message(self, format: str, *args: object) -> None:
        log.debug("sandbox.http %s", format % args)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(sb: Sandbox, host: str, port: int) -> _Server:
    server = _Server((host, port), _RequestHandler)
    server.set_app(sb)
    sb.served = True
    return server


def start_delivery_thread(sb: Sandbox, interval: float = 0.5) -> threading.Event:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                sb.deliver_pending()
            except Exception:  # keep delivering whatever one delivery did
                log.exception("sandbox.delivery_loop_error")
    threading.Thread(target=loop, name="jira-sandbox-deliveries", daemon=True).start()
    return stop


def serve(sb: Sandbox, host: str = "127.0.0.1", port: int = 8765) -> None:
    server = make_server(sb, host, port)
    stop = start_delivery_thread(sb)
    log.warning("sandbox.serving url=http://%s:%s conformance=%s", host, server.server_port,
                "on" if sb.conformance.enabled else "off")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
