"""Purchase burst: N viewers tap Buy at the same moment on a sale of S units, on each store; an
entry point of `bench.tap_rates` (its `burst-buy` phase, with its Node load generator). Prints
the time from the first send until the last answer, p50/p99/max, the outcomes (exactly S
winners, asserted), the server's and the generator's CPU per tap, and the last line of
`gala audit` on the store afterwards.

    .venv/bin/python -m bench.purchase --viewers 2000 --stock 100
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from bench import tap_rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=2000, help="buyers, one tap each")
    parser.add_argument("--stock", type=int, default=100, help="units of the sale")
    parser.add_argument("--store", choices=["sqlite", "redis", "both"], default="both")
    args = parser.parse_args()
    argv = ["--only", "burst-buy", "--buyers", str(args.viewers), "--stock", str(args.stock)]
    argv += ["--store", args.store]
    return asyncio.run(tap_rates.main(argv, " ".join(["bench.purchase", *sys.argv[1:]])))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, tap_rates.on_sigterm)
    sys.exit(main())
