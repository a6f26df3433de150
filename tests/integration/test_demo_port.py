"""`gala demo` and `gala serve` on a port something already listens on: one line naming the port,
a non-zero exit, and (for the demo) the store untouched, so a demo already running there keeps
the login it printed."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import write_show


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_taken_port_stops_the_command_at_one_line_before_it_touches_the_store(
    tmp_path: Path, taken_port: int, command: str
) -> None:
    db = tmp_path / "gala.db"
    done = subprocess.run(
        [sys.executable, "-m", "gala", command, "--port", str(taken_port),
         "--store", f"sqlite:///{db}", "--show", write_show(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("gala: port_in_use:") and str(taken_port) in line
    assert "--port" in line and "Traceback" not in done.stderr
    assert "serving on" not in done.stdout
    assert not db.exists(), "no account was saved, so a running demo's login still works"
