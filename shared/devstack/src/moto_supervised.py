# Runs the moto server and exits when the process that started it goes away, so that a
# test binary or dev server that dies (or is killed) never leaves a server behind.
import os
import sys
import threading
import time

parent = os.getppid()


def watch_parent() -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


threading.Thread(target=watch_parent, daemon=True).start()

# What `moto_server -H 127.0.0.1 -p PORT` runs, with one difference: requests are handled one
# at a time. moto's backends are not thread-safe, so two concurrent conditional writes (a
# TransactWriteItems each, say) could both pass their conditions, which DynamoDB never allows;
# the concurrency tests (50 actions on one workspace, retries of one Idempotency-Key) then
# failed now and then on a loaded machine. Connections stay concurrent (threaded server, keep-
# alive); only the handling of each request, response included, holds the lock.
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple  # noqa: E402

backend = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialised(environ, start_response):
    with lock:
        response = backend(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()


port = int(sys.argv[1])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple("127.0.0.1", port, serialised, threaded=True, request_handler=MotoRequestHandler)
