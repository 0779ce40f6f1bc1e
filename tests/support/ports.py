"""A free local port for a server a test starts.

Ports come from below the kernel's ephemeral range (32768 and up on Linux), where no outgoing
connection takes its local port, and each pytest-xdist worker draws from a slice of its own: a
port one worker found free cannot be handed to the other worker's server before the first one
binds it. A port handed out is not handed out again by this process for a while either.
"""

from __future__ import annotations

import os
import random
import socket
from collections import deque

# The range tests' servers listen in, split between the workers of a run.
FIRST_PORT, LAST_PORT = 10_000, 32_000
_RECENT = 2_000

_handed_out: deque[int] = deque(maxlen=_RECENT)


def _slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker.removeprefix("gw")) if worker.startswith("gw") else 0
    size = (LAST_PORT - FIRST_PORT) // max(workers, 1)
    start = FIRST_PORT + index * size
    return range(start, start + size)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nobody listens on right now, from this worker's slice."""
    ports = _slice()
    while True:
        port = random.choice(ports)
        if port not in _handed_out and _bindable(port):
            _handed_out.append(port)
            return port
