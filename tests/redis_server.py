"""Start a throwaway redis-server on a free localhost port (tests and benchmarks share this).

Plain functions, no pytest: benchmarks import this file by path.
"""
from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path

from server_process import stop_server

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ping(port: int) -> bool:
    # A raw RESP PING: waiting for the server needs no redis client.
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def stop_redis_server(proc: subprocess.Popen) -> None:
    """Terminate a server from :func:`start_redis_server` (kill it if it lingers)."""
    stop_server(proc)


def start_redis_server(workdir: Path, attempts: int = 3) -> tuple[str, subprocess.Popen]:
    """Run ``redis-server`` without persistence in ``workdir``; return its URL and process.

    Waits until the server answers PING (at most ``START_TIMEOUT_S``). The port is picked
    free just before the start, so another process may grab it first: then it retries.
    """
    exe = shutil.which("redis-server")
    if exe is None:
        raise FileNotFoundError("redis-server not installed (apt-get install redis-server)")
    workdir.mkdir(parents=True, exist_ok=True)
    logfile = workdir / "redis.log"
    for _ in range(attempts):
        port = _free_port()
        cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(workdir), "--logfile", str(logfile)]
        with open(workdir / "redis.stderr", "wb") as errfile:  # the child keeps its own copy
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errfile)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if _ping(port):
                log.info("redis-server pid %d on port %d", proc.pid, port)
                return f"redis://127.0.0.1:{port}/0", proc
            time.sleep(0.05)
        stop_redis_server(proc)
        err = (workdir / "redis.stderr").read_text(errors="replace")
        tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
        log.warning("redis-server on port %d did not start: %s %s", port, err, tail)
    raise RuntimeError(f"redis-server did not answer PING within {START_TIMEOUT_S:.0f}s; log in {logfile}")
