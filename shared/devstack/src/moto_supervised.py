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

from moto.server import main  # noqa: E402

main(["-H", "127.0.0.1", "-p", sys.argv[1]])
