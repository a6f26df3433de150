"""What the tap benchmarks (`purchase`, `grab`) share: a store of each backend in a temporary
directory, a storm of one socket call from every viewer at the same moment, its percentiles, and
the last line of `gala audit` on the store afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import socketio

from tests.support import redis_server


@contextlib.contextmanager
def store_of(kind: str) -> Iterator[tuple[str, Path]]:
    """(store URL, work directory) of a fresh store: a SQLite file, or a private redis-server."""
    with tempfile.TemporaryDirectory(prefix="gala-bench-") as tmp:
        workdir = Path(tmp)
        if kind == "redis":
            with redis_server() as url:
                yield url, workdir
        else:
            yield f"sqlite:///{workdir / 'gala.db'}", workdir


async def storm(
    viewers: list[socketio.AsyncClient],
    event: str,
    payload_of: Callable[[int], dict[str, Any]],
    won: str,
) -> tuple[list[float], Counter[str], float]:
    """Every viewer sends `event` at once; (sorted latencies in ms, outcomes, seconds). An
    accepted call counts as `won`, a refusal by its code."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def tap(index: int, client: socketio.AsyncClient) -> None:
        sent = time.perf_counter()
        ack: dict[str, Any] = await client.call(event, payload_of(index), timeout=120)
        latencies.append((time.perf_counter() - sent) * 1000)
        outcomes[won if ack["ok"] else ack["error"]["code"]] += 1

    started = time.perf_counter()
    await asyncio.gather(*(tap(i, c) for i, c in enumerate(viewers)))
    return sorted(latencies), outcomes, time.perf_counter() - started


def percentile(latencies: list[float], q: float) -> float:
    return latencies[min(len(latencies) - 1, int(q * len(latencies)))]


def summary(latencies: list[float], seconds: float, unit: str) -> str:
    return (
        f"{unit}/s={len(latencies) / seconds:.0f} p50={percentile(latencies, 0.5):.1f} ms "
        f"p99={percentile(latencies, 0.99):.1f} ms max={percentile(latencies, 1):.1f} ms"
    )


def audit(store: str, workdir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gala", "audit", "--store", store],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
        check=False,
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()
