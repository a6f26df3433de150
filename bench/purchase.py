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
import sys
from pathlib import Path

from bench.taps import audit, store_of, storm, summary
from tests.support import (
    SHOP_SHOW,
    add_producer,
    connect_and_join,
    gala_process,
    producer_client,
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


async def measure(kind: str, args: argparse.Namespace) -> None:
    with store_of(kind) as (store, workdir):
        show = shop_show(workdir, stock=args.stock, hold_ms=300_000)
        add_producer(store, "bench", "bench-password", workdir)
        with gala_process(store, show, workdir, demo_grant_minor=100_000_000) as (_proc, base):
            await open_sale(base)
            tokens = await viewer_tokens(base, args.viewers)
            viewers = await connect_and_join(base, tokens, SHOP_SHOW)
            latencies, outcomes, seconds = await storm(
                viewers,
                "buy",
                lambda i: {
                    "show_id": SHOP_SHOW,
                    "product_id": "widget",
                    "quantity": 1,
                    "key": f"bench-tap-{i:06d}",
                },
                won="paid",
            )
            for client in viewers:
                await client.disconnect()
        refused = {k: v for k, v in outcomes.items() if k != "paid"}
        print(
            f"{kind:7} viewers={args.viewers} stock={args.stock} paid={outcomes['paid']} "
            f"refused={refused} {summary(latencies, seconds, 'taps')} | {audit(store, workdir)}"
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
        await asyncio.wait_for(measure(kind, args), 600)


if __name__ == "__main__":
    asyncio.run(main())
