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
from pathlib import Path

import socketio

from bench.taps import audit, store_of, storm, summary
from tests.support import (
    DROP_SHOW,
    add_producer,
    connect_and_join,
    drop_show,
    gala_process,
    producer_client,
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


async def measure(kind: str, args: argparse.Namespace) -> None:
    budget = args.envelopes * BUDGET_PER_ENVELOPE_MINOR
    with store_of(kind) as (store, workdir):
        show = drop_show(workdir, envelopes=args.envelopes, budget_minor=budget)
        add_producer(store, "bench", "bench-password", workdir)
        with gala_process(store, show, workdir, demo_budget_minor=budget) as (_proc, base):
            tokens = await viewer_tokens(base, args.viewers)
            viewers = await connect_and_join(base, tokens, DROP_SHOW)
            drop_id = await launch(base, viewers[0])
            # The baseline, in the same run: every viewer sends a `time` ping at once (no
            # store), which is what this harness and the socket layer cost without the grab.
            pings, _, ping_s = await storm(viewers, "time", lambda _i: {"t0": 0}, won="pong")
            grab = {"show_id": DROP_SHOW, "drop_id": drop_id}
            latencies, outcomes, seconds = await storm(viewers, "grab", lambda _i: grab, "won")
            for client in viewers:
                await client.disconnect()
            await asyncio.sleep(1.5)  # the sweeper closes the drop
        refused = {k: v for k, v in outcomes.items() if k != "won"}
        print(f"{kind:7} baseline (time pings): {summary(pings, ping_s, 'pings')}")
        print(
            f"{kind:7} viewers={args.viewers} envelopes={args.envelopes} won={outcomes['won']} "
            f"refused={refused} {summary(latencies, seconds, 'grabs')} | {audit(store, workdir)}"
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
        await asyncio.wait_for(measure(kind, args), 900)


if __name__ == "__main__":
    asyncio.run(main())
