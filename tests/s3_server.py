"""An S3-compatible server for the tests: moto's, on a loopback port, handling one request at a time.

moto 5.2.5 honours conditional writes (``If-None-Match: *``, ``If-Match``) but checks and writes in two steps
without a lock, so two racing create-only writes can both succeed now and then (about 1 in 700 rounds of 8
processes, measured) — real S3 makes the check atomic. Serialising the requests restores that guarantee, which
is what the lifecycle relies on. It subclasses a private method of moto's ``ThreadedMotoServer``, so it is tied
to the pinned moto version (requirements-test.txt).
"""

from __future__ import annotations

import logging
import threading

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class _OneAtATime:
    def __init__(self, app) -> None:
        self.app, self.lock = app, threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            return list(self.app(environ, start_response))  # the whole response inside the lock


class SerializedMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, threaded=True,
                                   request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def start() -> tuple[SerializedMotoServer, str]:
    """Start a server on a free loopback port; returns it and its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = SerializedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"
