"""Run ``shoprank serve`` as a real child process (tests that kill it, benchmarks with two).

Plain functions, no pytest: benchmarks import this file by path.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

START_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: str, env: dict[str, str], log_path: Path) -> tuple[str, subprocess.Popen]:
    """Serve index ``index`` with ``SHOPRANK_*`` settings from ``env``; wait for /health."""
    port = free_port()
    full_env = {**os.environ, **env}
    log = open(log_path, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "shoprank.cli", "serve", "--name", index, "--port", str(port)],
                            env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"server did not answer /health within {START_TIMEOUT_S:.0f} s; see {log_path}")


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate a child server (kill it if it lingers)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
