"""Helpers of the server tests: real uvicorn servers on free loopback ports, in a thread or a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from cim.reward.scorer import CIMScorer
from cim.server.app import create_app
from cim.server.settings import ServeSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def thread_server(settings: ServeSettings, scorer: CIMScorer | None = None, port: int | None = None) -> Iterator[str]:
    """Run the app under uvicorn in a thread on `port` (default: a free one); yields its URL; stops on exit."""
    settings = settings.replace(port=port or free_port())
    config = uvicorn.Config(create_app(settings, scorer), host="127.0.0.1", port=settings.port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def process_server(gallery: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """`cim serve` in a subprocess on a free port; yields (process, URL) once /healthz answers; SIGTERM on exit."""
    port = free_port()
    command = [sys.executable, "-m", "cim.cli", "serve", "--gallery", str(gallery), "--port", str(port),
               "--device", "cpu", "--log-level", "warning", *args]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    log = tempfile.TemporaryFile(mode="w+")  # not a pipe: a full pipe would block the server
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    headers = {"authorization": f"Bearer {environment['CIM_SERVE_TOKEN']}"} if "CIM_SERVE_TOKEN" in environment else {}
    deadline = time.monotonic() + 90
    try:
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"cim serve exited with {process.returncode}: {log.read()}")
            try:
                if httpx.get(url + "/healthz", headers=headers, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("cim serve did not start in 90 s")
            time.sleep(0.2)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
