"""Fan-out benchmark: gala's show-log broadcast against a plain python-socketio baseline, in the
same run, on this machine's loopback.

Each server runs in its own process pinned to CPU 0; the load generator (`loadgen.mjs`, Node on
raw TCP sockets) and this driver run pinned to CPU 1. The load generator opens N websocket
socket.io viewers that join the show. Once all joined, K cues are fired at R per second (gala: a
producer's GO over the socket, each cue putting a ~350-byte banner event on the show log;
baseline: the same event through `sio.emit(room=...)`). A fire waits for the previous one's
answer, so a server too busy to answer lowers the rate. Printed per server: viewers,
delivered/expected, lost, duplicates and out-of-order deliveries, p50/p99/max latency from the
fire to each delivery, the time until the last viewer had each cue (p50/max), server CPU per
delivery, server RSS per connected viewer, the load generator's own CPU and the cue rate reached.

    .venv/bin/python -m bench.fanout --viewers 10000 --cues 50 --rate 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from tests.support import redis_server

ROOT = Path(__file__).resolve().parent.parent
SHOW = "bench"
LOCALES = ("en", "zh", "ar", "vi", "fr", "id")
TEXT = {
    "en": "Flash sale now: 50% off",
    "zh": "限时抢购开始了：五折",
    "ar": "تخفيضات الآن",
    "vi": "Giảm giá chớp nhoáng",
    "fr": "Vente flash : -50 %",
    "id": "Obral kilat: 50%",
}
MAX_VIEWERS = 20_000
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    viewers: int
    expected: int
    delivered: int
    dup: int
    out_of_order: int
    latencies_ms: list[float]
    last_ms: list[float]
    cpu_us_per_delivery: float
    rss_kib_per_viewer: float
    gen_cpu_s: float
    fire_to_last_ack_ms: float
    idle_us_per_viewer_s: float
    rate_reached: float


def pinned(cpu: int) -> Any:
    def apply() -> None:
        if (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {cpu})

    return apply


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def banner(index: int) -> dict[str, Any]:
    return {"do": "banner.show", "id": f"b{index}", "text": TEXT}


def show_file(directory: Path, cues: int) -> Path:
    lines = [
        "[show]",
        f'id = "{SHOW}"',
        'title = "Bench"',
        'currency = "CNY"',
        f"locales = {json.dumps(list(LOCALES))}",
        "",
    ]
    for index in range(cues + 1):
        action = banner(index)
        text = ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in TEXT.items())
        lines += [
            "[[cues]]",
            f'id = "c{index}"',
            f'label = "Cue {index}"',
            f'actions = [{{ do = "banner.show", id = "{action["id"]}", text = {{ {text} }} }}]',
            "",
        ]
    path = directory / "bench.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def event_of(seq: int) -> dict[str, Any]:
    """The event the baseline broadcasts: the same shape and size as gala's."""
    return {
        "seq": seq,
        "epoch": "bench",
        "type": "overlay.shown",
        "program_time_ms": int(time.time() * 1000),
        "data": {"layer": "banner", "overlay": {"id": f"b{seq}", "kind": "banner", "text": TEXT}},
    }


async def wait_for_line(proc: subprocess.Popen[str], prefix: str, timeout_s: float) -> str:
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        line = await asyncio.wait_for(
            loop.run_in_executor(None, proc.stdout.readline), deadline - loop.time()
        )
        if not line:
            raise RuntimeError(f"process ended before {prefix!r}")
        if line.startswith(prefix):
            return line
    raise TimeoutError(prefix)


def stop(proc: subprocess.Popen[str] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class GalaTarget:
    def __init__(self, workdir: Path, port: int, cues: int, store: str | None = None) -> None:
        self.workdir, self.port, self.cues = workdir, port, cues
        self.store = store or f"sqlite:///{workdir / 'gala.db'}"
        self.name = "gala (redis)" if self.store.startswith("redis") else "gala"
        self.base = f"http://127.0.0.1:{port}"
        self.producer: socketio.AsyncClient | None = None
        self.standby = "c0"

    async def start(self) -> subprocess.Popen[str]:
        store = self.store
        show = show_file(self.workdir, self.cues)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "gala",
                "user",
                "add",
                "bench",
                "--role",
                "producer",
                "--password-stdin",
                "--store",
                store,
            ],
            input="bench-password\n",
            text=True,
            check=True,
            capture_output=True,
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gala",
                "serve",
                "--store",
                store,
                "--port",
                str(self.port),
                "--show",
                str(show),
            ],
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "GALA_LOG_LEVEL": "WARNING"},
            preexec_fn=pinned(0),
        )
        await wait_for_line(proc, "gala is serving", 60)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.base}/api/login", json={"username": "bench", "password": "bench-password"}
            ) as r:
                producer_token = (await r.json())["data"]["token"]
            self.tokens = []
            for _ in range(100):
                async with http.post(f"{self.base}/api/viewer-token") as r:
                    self.tokens.append((await r.json())["data"]["token"])
        self.producer = socketio.AsyncClient(reconnection=False)
        await self.producer.connect(
            self.base,
            transports=["websocket"],
            auth={"token": producer_token},
            namespaces=["/producer"],
        )
        await self.fire(0)  # warm-up: the show goes live (seq 1) and cue c0 runs (seq 2)
        return proc

    def seqs(self, cues: int) -> tuple[int, int]:
        return 3, cues + 2

    async def fire(self, index: int) -> None:
        assert self.producer is not None
        ack = await self.producer.call(
            "go",
            {"show_id": SHOW, "standby_cue_id": self.standby},
            namespace="/producer",
            timeout=60,
        )
        self.standby = ack["data"]["standby_cue_id"]

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.disconnect()


class BaselineTarget:
    name = "python-socketio"

    def __init__(self, workdir: Path, port: int, cues: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.tokens = ["baseline"]
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.baseline_server", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=pinned(0),
        )
        await wait_for_line(proc, "baseline serving", 60)
        await asyncio.sleep(0.5)
        self.http = aiohttp.ClientSession()
        return proc

    def seqs(self, cues: int) -> tuple[int, int]:
        return 1, cues

    async def fire(self, index: int) -> None:
        assert self.http is not None
        async with self.http.post(
            f"{self.base}/fire", json={"show_id": SHOW, "event": event_of(index)}
        ) as r:
            await r.read()

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()


async def run_target(target: Any, args: argparse.Namespace) -> Result:
    server = loadgen = None
    try:
        server = await target.start()
        rss_before = rss_kib(server.pid)
        first, last = target.seqs(args.cues)
        loadgen = subprocess.Popen(
            ["node", str(ROOT / "bench" / "loadgen.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=pinned(1),
        )
        assert loadgen.stdin is not None and loadgen.stdout is not None
        # the load generator's deadline starts when all joined, before the settle and idle phases
        timeout_s = 1.0 + args.idle_s + args.cues / args.rate + args.grace
        loadgen.stdin.write(
            json.dumps(
                {
                    "url": f"ws://127.0.0.1:{target.port}/socket.io/?EIO=4&transport=websocket",
                    "tokens": target.tokens,
                    "show_id": SHOW,
                    "viewers": args.viewers,
                    "batch": args.batch,
                    "expect_seqs": [first, last],
                    "timeout_s": timeout_s,
                }
            )
            + "\n"
        )
        loadgen.stdin.flush()
        joined = int((await wait_for_line(loadgen, "READY", args.connect_timeout)).split()[1])
        await asyncio.sleep(1.0)
        rss_after = rss_kib(server.pid)
        idle_start = cpu_seconds(server.pid)
        await asyncio.sleep(args.idle_s)
        idle = (cpu_seconds(server.pid) - idle_start) * 1e6 / args.idle_s / max(1, joined)
        cpu_before = cpu_seconds(server.pid)
        fired_at: dict[int, float] = {}
        start = time.monotonic()
        for index in range(1, args.cues + 1):
            await asyncio.sleep(max(0.0, start + (index - 1) / args.rate - time.monotonic()))
            fired_at[first + index - 1] = time.time() * 1000
            await target.fire(index)
        last_ack_ms = time.time() * 1000 - fired_at[last]
        rate_reached = (args.cues - 1) / max(1e-9, (fired_at[last] - fired_at[first]) / 1000)
        report = json.loads(await wait_for_line(loadgen, "{", timeout_s + 60))
        cpu = cpu_seconds(server.pid) - cpu_before
        latencies, last_viewer = [], []
        for offset, times in enumerate(report["recv"]):
            sent = fired_at[first + offset]
            latencies += [t - sent for t in times]
            if len(times) == joined:
                last_viewer.append(max(times) - sent)
            else:
                last_viewer.append(float("inf"))
        delivered = sum(len(times) for times in report["recv"])
        if args.per_cue:
            print(
                f"{target.name}: last viewer per cue (ms):",
                " ".join(f"{ms:.0f}" for ms in last_viewer),
            )
        return Result(
            target.name,
            joined,
            joined * args.cues,
            delivered,
            report["dup"],
            report["out_of_order"],
            sorted(latencies),
            sorted(last_viewer),
            cpu * 1e6 / max(1, delivered),
            (rss_after - rss_before) / max(1, joined),
            report["cpu_run_s"],
            last_ack_ms,
            idle,
            rate_reached,
        )
    finally:
        await target.close()
        stop(loadgen)
        stop(server)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"viewers={args.viewers} cues={args.cues} rate={args.rate}/s "
        f"(server on CPU 0, load generator on CPU 1)"
    )
    head = (
        f"{'server':16} {'viewers':>7} {'delivered/expected':>19} {'lost':>6} {'dup/ooo':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'last p50':>9} {'last max':>9} "
        f"{'CPU us/deliv':>12} {'RSS KiB/viewer':>14} {'idle us/viewer/s':>16} "
        f"{'gen CPU s':>9} {'cues/s':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.name:16} {r.viewers:>7} {f'{r.delivered}/{r.expected}':>19} "
            f"{r.expected - r.delivered:>6} {f'{r.dup}/{r.out_of_order}':>8} "
            f"{pct(r.latencies_ms, 0.5):>7.1f} {pct(r.latencies_ms, 0.99):>7.1f} "
            f"{pct(r.latencies_ms, 1):>8.1f} {pct(r.last_ms, 0.5):>9.1f} "
            f"{pct(r.last_ms, 1):>9.1f} {r.cpu_us_per_delivery:>12.1f} "
            f"{r.rss_kib_per_viewer:>14.1f} {r.idle_us_per_viewer_s:>16.2f} "
            f"{r.gen_cpu_s:>9.2f} {r.rate_reached:>6.1f}"
        )
    by_name = {r.name: r for r in results}
    if "gala" in by_name and "python-socketio" in by_name:
        ratio = by_name["python-socketio"].cpu_us_per_delivery / by_name["gala"].cpu_us_per_delivery
        print(f"baseline CPU per delivery / gala CPU per delivery = {ratio:.1f}x")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=10_000)
    parser.add_argument("--cues", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument(
        "--servers",
        default="gala,baseline",
        help="comma-separated: gala (SQLite), gala-redis, baseline",
    )
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument(
        "--grace",
        type=float,
        default=30.0,
        help="seconds to wait for late deliveries after the last cue",
    )
    parser.add_argument("--connect-timeout", type=float, default=240.0)
    parser.add_argument(
        "--per-cue", action="store_true", help="also print the last viewer's latency of every cue"
    )
    parser.add_argument(
        "--idle-s",
        type=float,
        default=25.0,
        help="seconds of idle viewers measured before the cues (one ping period)",
    )
    args = parser.parse_args()
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # this driver fires the cues: it is load, not server
    if not 1 <= args.viewers <= MAX_VIEWERS:
        parser.error(f"--viewers must be between 1 and {MAX_VIEWERS}")
    if shutil.which("node") is None:
        parser.error("node is needed for the load generator")
    print("$ " + " ".join([Path(sys.executable).name, "-m", "bench.fanout", *sys.argv[1:]]))
    results = []
    for name in args.servers.split(","):
        with tempfile.TemporaryDirectory(prefix="gala-bench-") as tmp:
            port = 20000 + os.getpid() % 10000
            if name == "gala-redis":
                with redis_server() as url:
                    target = GalaTarget(Path(tmp), port, args.cues, store=url)
                    results.append(await run_target(target, args))
                continue
            target = (
                GalaTarget(Path(tmp), port, args.cues)
                if name == "gala"
                else BaselineTarget(Path(tmp), port, args.cues)
            )
            results.append(await run_target(target, args))
    print_table(results, args)


if __name__ == "__main__":
    asyncio.run(main())
