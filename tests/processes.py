"""Run `copyforge serve` as a real process on a free 127.0.0.1 port: start, kill, stop."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import free_port

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


def copyforge_command() -> str:
    """The console script of the environment running the tests."""
    beside_python = Path(sys.executable).parent / "copyforge"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("copyforge")
    assert found, "the copyforge console script is not installed"
    return found


@dataclass(frozen=True)
class ServerProcess:
    """A running `copyforge serve`, its base URL and the file its stderr is appended to."""

    process: "subprocess.Popen[bytes]"
    base_url: str
    log_path: Path

    def log(self) -> str:
        """Everything the server (and every earlier server on this log) wrote to stderr."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def server_env(database_url: str, port: int, env: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment minus COPYFORGE_ settings, plus the server's own."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("COPYFORGE_")}
    full.update(
        COPYFORGE_DATABASE_URL=database_url,
        COPYFORGE_HOST="127.0.0.1",
        COPYFORGE_PORT=str(port),
        COPYFORGE_LOG_LEVEL="warning",
    )
    full.update(env)
    return full


def answers(url: str, process: "subprocess.Popen[bytes]", timeout_s: float) -> bool:
    """True once GET `url` answers 200; False if the process exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def _wait_ready(server: ServerProcess, timeout_s: float) -> bool:
    """True once /readyz answers 200; False if the process exits first. Raises on timeout."""
    if answers(f"{server.base_url}/readyz", server.process, timeout_s):
        return True
    if server.process.poll() is not None:
        return False
    raise RuntimeError(f"copyforge serve not ready after {timeout_s} s:\n{server.log()[-3000:]}")


def start_server(
    database_url: str,
    log_path: Path,
    env: Mapping[str, str],
    *,
    ready_timeout_s: float = READY_TIMEOUT_S,
) -> ServerProcess:
    """Start `copyforge serve` (it migrates first) and return once /readyz answers 200."""
    for _ in range(START_ATTEMPTS):
        port = free_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [copyforge_command(), "serve"],
                env=server_env(database_url, port, env),
                cwd=log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
        try:
            if _wait_ready(server, ready_timeout_s):
                return server
        except BaseException:
            stop_server(server)
            raise
    raise RuntimeError(f"copyforge serve exited before it was ready:\n{server.log()[-3000:]}")


def kill_server(server: ServerProcess) -> None:
    """SIGKILL: no shutdown handlers, no draining, no final commit; like a crash."""
    if server.process.poll() is None:
        server.process.kill()
    server.process.wait(timeout=STOP_TIMEOUT_S)


def stop_server(server: ServerProcess) -> None:
    """SIGTERM and wait for the graceful shutdown; SIGKILL if it does not come."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.process.kill()
    server.process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def running_server(
    database_url: str, log_path: Path, env: Mapping[str, str]
) -> Iterator[ServerProcess]:
    """A started server that is stopped when the block ends, however it ends."""
    server = start_server(database_url, log_path, env)
    try:
        yield server
    finally:
        stop_server(server)
