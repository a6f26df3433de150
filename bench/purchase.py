"""Purchase benchmark: N viewers tap Buy at the same moment through real sockets on loopback,
against a sale of S units, on each store backend; prints taps per second, tap-to-answer latency,
what was sold and refused, and the result of `gala audit`.

    .venv/bin/python -m bench.purchase --viewers 1000 --stock 100

The server runs in its own process (`gala serve`); the viewers are python-socketio clients in
this process, so the latencies include their own event loop. Loopback only, bounded in count and
time; the processes it started are stopped by their process ids.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import socketio

from tests.support import (
    SHOP_SHOW,
    add_producer,
    connect_and_join,
    gala_process,
    producer_client,
    redis_server,
    shop_show,
    viewer_tokens,
)

MAX_VIEWERS = 5000


async def open_sale(base: str) -> None:
    async with producer_client(base, "bench", "bench-password") as producer:
        for cue in ("c1", "c2"):
            await producer.call(
                "go",
                {"show_id": SHOP_SHOW, "standby_cue_id": cue},
                namespace="/producer",
                timeout=30,
            )


async def storm(viewers: list[socketio.AsyncClient]) -> tuple[list[float], Counter[str], float]:
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def tap(index: int, client: socketio.AsyncClient) -> None:
        sent = time.perf_counter()
        ack: dict[str, Any] = await client.call(
            "buy",
            {
                "show_id": SHOP_SHOW,
                "product_id": "widget",
                "quantity": 1,
                "key": f"bench-tap-{index:06d}",
            },
            timeout=120,
        )
        latencies.append((time.perf_counter() - sent) * 1000)
        outcomes["paid" if ack["ok"] else ack["error"]["code"]] += 1

    started = time.perf_counter()
    await asyncio.gather(*(tap(i, c) for i, c in enumerate(viewers)))
    return sorted(latencies), outcomes, time.perf_counter() - started


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


async def run(store_kind: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="gala-bench-") as tmp:
        workdir = Path(tmp)
        show = shop_show(workdir, stock=args.stock, hold_ms=300_000)
        if store_kind == "redis":
            with redis_server() as url:
                await measure(store_kind, url, show, workdir, args)
        else:
            await measure(store_kind, f"sqlite:///{workdir / 'gala.db'}", show, workdir, args)


async def measure(
    kind: str, store: str, show: str, workdir: Path, args: argparse.Namespace
) -> None:
    add_producer(store, "bench", "bench-password", workdir)
    with gala_process(store, show, workdir, demo_grant_minor=100_000_000) as (_proc, base):
        await open_sale(base)
        tokens = await viewer_tokens(base, args.viewers)
        viewers = await connect_and_join(base, tokens, SHOP_SHOW)
        latencies, outcomes, seconds = await storm(viewers)
        for client in viewers:
            await client.disconnect()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    print(
        f"{kind:7} viewers={args.viewers} stock={args.stock} paid={outcomes['paid']} "
        f"refused={dict((k, v) for k, v in outcomes.items() if k != 'paid')} "
        f"taps/s={len(latencies) / seconds:.0f} p50={p(0.5):.1f} ms p99={p(0.99):.1f} ms "
        f"max={p(1):.1f} ms | {audit(store, workdir)}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--store", choices=["sqlite", "redis", "both"], default="both")
    args = parser.parse_args()
    if not 1 <= args.viewers <= MAX_VIEWERS:
        parser.error(f"--viewers must be between 1 and {MAX_VIEWERS}")
    print("$ " + " ".join([Path(sys.executable).name, "-m", "bench.purchase", *sys.argv[1:]]))
    for kind in ["sqlite", "redis"] if args.store == "both" else [args.store]:
        await asyncio.wait_for(run(kind, args), 600)


if __name__ == "__main__":
    asyncio.run(main())
