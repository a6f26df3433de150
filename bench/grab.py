"""Grab burst: N viewers tap Grab at the same moment on one drop of E envelopes (888 minor units
per envelope on average, funded by the show's demo budget, launched from the console), on each
store; an entry point of `bench.tap_rates` (its `burst-grab` phase, with its Node load
generator). Prints the time from the first send until the last answer, p50/p99/max, the
outcomes (exactly E winners, asserted; each answer comes after the claim is credited to the
wallet), the server's and the generator's CPU per tap, and the last line of `gala audit`.

    .venv/bin/python -m bench.grab --viewers 5000 --envelopes 1000
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from bench import tap_rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=5000, help="grabbers, one tap each")
    parser.add_argument("--envelopes", type=int, default=1000, help="envelopes of the drop")
    parser.add_argument("--store", choices=["sqlite", "redis", "both"], default="both")
    args = parser.parse_args()
    argv = ["--only", "burst-grab", "--grabbers", str(args.viewers)]
    argv += ["--envelopes", str(args.envelopes), "--store", args.store]
    return asyncio.run(tap_rates.main(argv, " ".join(["bench.grab", *sys.argv[1:]])))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, tap_rates.on_sigterm)
    sys.exit(main())
