"""Grab benchmark: N viewers tap Grab at the same moment through real sockets on loopback, on one
drop of E envelopes, on each store backend; prints grabs per second, tap-to-answer latency, the
outcomes, and the result of `gala audit`.

    .venv/bin/python -m bench.grab --viewers 5000 --envelopes 1000

The server runs in its own process (`gala serve`); the viewers are python-socketio clients in
this process, so the latencies include their own event loop. Loopback only, bounded in count and
time; the processes it started are stopped by their process ids.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import socketio

from bench.purchase import audit
from tests.support import (
    DROP_SHOW,
    add_producer,
    connect_and_join,
    drop_show,
    gala_process,
    producer_client,
    redis_server,
    viewer_tokens,
)

MAX_VIEWERS = 10_000
BUDGET_PER_ENVELOPE_MINOR = 888


async def launch(base: str, viewer: socketio.AsyncClient) -> str:
    async with producer_client(base, "bench", "bench-password") as producer:
        await producer.call(
            "go", {"show_id": DROP_SHOW, "standby_cue_id": "c1"}, namespace="/producer", timeout=30
        )
    for _ in range(600):
        joined = await viewer.call("join", {"show_id": DROP_SHOW}, timeout=30)
        drops = list(joined["data"]["snapshot"]["drops"])
        if drops:
            return str(drops[0])
        await asyncio.sleep(0.05)
    raise RuntimeError("the drop was never announced")


async def storm(
    viewers: list[socketio.AsyncClient], event: str, payload: dict[str, Any]
) -> tuple[list[float], Counter[str], float]:
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def tap(client: socketio.AsyncClient) -> None:
        sent = time.perf_counter()
        ack: dict[str, Any] = await client.call(event, payload, timeout=120)
        latencies.append((time.perf_counter() - sent) * 1000)
        outcomes["won" if ack["ok"] else ack["error"]["code"]] += 1

    started = time.perf_counter()
    await asyncio.gather(*(tap(c) for c in viewers))
    return sorted(latencies), outcomes, time.perf_counter() - started


async def run(store_kind: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="gala-bench-") as tmp:
        workdir = Path(tmp)
        budget = args.envelopes * BUDGET_PER_ENVELOPE_MINOR
        show = drop_show(workdir, envelopes=args.envelopes, budget_minor=budget)
        if store_kind == "redis":
            with redis_server() as url:
                await measure(store_kind, url, show, workdir, args)
        else:
            await measure(store_kind, f"sqlite:///{workdir / 'gala.db'}", show, workdir, args)


async def measure(
    kind: str, store: str, show: str, workdir: Path, args: argparse.Namespace
) -> None:
    add_producer(store, "bench", "bench-password", workdir)
    budget = args.envelopes * BUDGET_PER_ENVELOPE_MINOR
    with gala_process(store, show, workdir, demo_budget_minor=budget) as (_proc, base):
        tokens = await viewer_tokens(base, args.viewers)
        viewers = await connect_and_join(base, tokens, DROP_SHOW)
        drop_id = await launch(base, viewers[0])
        # The baseline, in the same run: every viewer sends a `time` ping at once (no store),
        # which is what this harness and the socket layer cost without the grab.
        pings, _, ping_s = await storm(viewers, "time", {"t0": 0})
        grab = {"show_id": DROP_SHOW, "drop_id": drop_id}
        latencies, outcomes, seconds = await storm(viewers, "grab", grab)
        for client in viewers:
            await client.disconnect()
        await asyncio.sleep(1.5)  # the sweeper closes the drop
    p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]  # noqa: E731
    print(
        f"{kind:7} baseline (time pings): {len(pings) / ping_s:.0f}/s "
        f"p50={p(pings, 0.5):.1f} ms p99={p(pings, 0.99):.1f} ms"
    )
    print(
        f"{kind:7} viewers={args.viewers} envelopes={args.envelopes} won={outcomes['won']} "
        f"refused={dict((k, v) for k, v in outcomes.items() if k != 'won')} "
        f"grabs/s={len(latencies) / seconds:.0f} p50={p(latencies, 0.5):.1f} ms "
        f"p99={p(latencies, 0.99):.1f} ms max={p(latencies, 1):.1f} ms | {audit(store, workdir)}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--envelopes", type=int, default=500)
    parser.add_argument("--store", choices=["sqlite", "redis", "both"], default="both")
    args = parser.parse_args()
    if not 1 <= args.viewers <= MAX_VIEWERS:
        parser.error(f"--viewers must be between 1 and {MAX_VIEWERS}")
    if not 1 <= args.envelopes <= 100_000:
        parser.error("--envelopes must be between 1 and 100000")
    print("$ " + " ".join([Path(sys.executable).name, "-m", "bench.grab", *sys.argv[1:]]))
    for kind in ["sqlite", "redis"] if args.store == "both" else [args.store]:
        await asyncio.wait_for(run(kind, args), 900)


if __name__ == "__main__":
    asyncio.run(main())
