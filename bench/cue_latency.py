"""Cue latency: how long a producer's GO takes to reach every viewer.

For each store backend (SQLite, Redis) the benchmark starts a real `gala serve` node in its own
process on 127.0.0.1, with a generated show of K cues (one action each, no timers). N viewers
connect over socket.io (websocket transport) from separate load-generator processes and join the
show; a producer in this process then sends K GOs at a fixed rate. The load generators stamp every
`event` they receive with `time.time_ns()`; the producer stamps each GO just before sending it
(same machine, so the wall clocks agree).

Printed per store: delivered/expected events, lost ones, duplicates and out-of-order events,
p50/p99/max latency from GO to each delivery, the "last viewer" latency (from GO until the last
viewer had the cue's event, p50/max over cues), the node's CPU per cue and per delivery, and the
load generators' CPU, both measured from /proc/PID/stat over the cue phase. It also checks that
every viewer received seqs 1..final exactly once and in order.

Run from the repository root:  .venv/bin/python -m bench.cue_latency [--viewers N] [--cues K]
    [--rate R] [--store sqlite|redis|both] [--processes P]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import socketio

from gala.auth.tokens import PRODUCER, hash_password
from gala.stores.factory import open_store
from gala.stores.ports import Account
from tests.support import redis_server, show_toml

ROOT = Path(__file__).resolve().parent.parent
SHOW_ID = "bench-show"
HOST = "127.0.0.1"
MAX_VIEWERS = 20_000
RUN_TIMEOUT_S = 300.0
SERVER_START_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 180.0
DRAIN_TIMEOUT_S = 20.0
DUMP_TIMEOUT_S = 60.0
CONNECT_BATCH = 50
SOCKET_TIMEOUT_S = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """The run could not be measured (a process failed, a step timed out, a GO was refused)."""


# --- options -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cue_latency",
        description="Measure how fast a producer's GO reaches every viewer.",
    )
    parser.add_argument("--viewers", type=int, default=200, help="viewers (default 200)")
    parser.add_argument("--cues", type=int, default=30, help="cues to GO (default 30)")
    parser.add_argument("--rate", type=float, default=2.0, help="GOs per second (default 2)")
    parser.add_argument(
        "--store", choices=["sqlite", "redis", "both"], default="both", help="default both"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="load-generator processes (default 1)"
    )
    # load-generator mode, started by the benchmark itself
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--final-seq", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    problem = _option_problem(args)
    if problem:
        parser.error(problem)
    return args


def _option_problem(args: argparse.Namespace) -> str | None:
    if not 1 <= args.viewers <= MAX_VIEWERS:
        return f"--viewers must be between 1 and {MAX_VIEWERS}"
    if args.cues < 1:
        return "--cues must be at least 1"
    if not 0 < args.rate <= 1000:
        return "--rate must be above 0 and at most 1000"
    if not 1 <= args.processes <= min(args.viewers, 64):
        return "--processes must be between 1 and min(viewers, 64)"
    if args.worker and not (args.url and args.final_seq and args.results):
        return "--worker needs --url, --final-seq and --results"
    if args.worker and urlsplit(args.url).hostname != HOST:
        return f"the load generator only connects to {HOST}"
    return None


def raise_fd_limit() -> None:
    """Let this process (and its children) hold as many sockets as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# --- the load generator (runs in its own process) ------------------------------------------------


@dataclass(eq=False)
class Arrivals:
    """What one viewer received: the `seq` of each event and when it arrived."""

    seqs: list[int] = field(default_factory=list)
    times_ns: list[int] = field(default_factory=list)
    done: bool = False


@dataclass(eq=False)
class Crowd:
    """The viewers of one load-generator process."""

    final_seq: int
    viewers: list[Arrivals] = field(default_factory=list)
    clients: list[socketio.AsyncClient] = field(default_factory=list)
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    waiting: int = 0
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    def recorder(self, arrivals: Arrivals) -> Callable[[Any], None]:
        def on_event(data: Any) -> None:
            now = time.time_ns()
            seq = data.get("seq") if isinstance(data, dict) else None
            seq = seq if isinstance(seq, int) else -1
            arrivals.seqs.append(seq)
            arrivals.times_ns.append(now)
            if seq >= self.final_seq and not arrivals.done:
                arrivals.done = True
                self.waiting -= 1
                if self.waiting == 0:
                    self.complete.set()

        return on_event

    async def connect_one(self, http: aiohttp.ClientSession, url: str) -> None:
        client = socketio.AsyncClient(reconnection=False)
        arrivals = Arrivals()
        try:
            async with http.post(f"{url}/api/viewer-token") as resp:
                token = (await resp.json())["data"]["token"]
            client.on("event", self.recorder(arrivals), namespace="/")
            await client.connect(
                url,
                transports=["websocket"],
                auth={"token": token},
                namespaces=["/"],
                wait_timeout=SOCKET_TIMEOUT_S,
            )
            reply = await client.call("join", {"show_id": SHOW_ID}, timeout=SOCKET_TIMEOUT_S)
            if not reply.get("ok"):
                raise BenchError(f"join refused: {reply}")
        except Exception as error:  # noqa: BLE001 - a failed viewer is counted, not fatal
            self.failed += 1
            if len(self.errors) < 5:
                self.errors.append(f"{type(error).__name__}: {error}")
            with contextlib.suppress(Exception):
                await client.disconnect()
            return
        self.viewers.append(arrivals)
        self.clients.append(client)

    async def connect_all(self, url: str, count: int) -> None:
        async with aiohttp.ClientSession() as http:
            for start in range(0, count, CONNECT_BATCH):
                size = min(CONNECT_BATCH, count - start)
                await asyncio.gather(*(self.connect_one(http, url) for _ in range(size)))
        self.waiting = len(self.viewers)
        if self.waiting == 0:
            self.complete.set()

    async def disconnect_all(self) -> None:
        for start in range(0, len(self.clients), 200):
            batch = self.clients[start : start + 200]
            await asyncio.gather(*(c.disconnect() for c in batch), return_exceptions=True)

    def dump(self, path: str) -> None:
        body = {
            "failed": self.failed,
            "errors": self.errors,
            "seqs": [v.seqs for v in self.viewers],
            "times_ns": [v.times_ns for v in self.viewers],
        }
        Path(path).write_text(json.dumps(body, separators=(",", ":")))


async def stdin_lines() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def tell(*words: object) -> None:
    print(*words, flush=True)


async def worker_main(args: argparse.Namespace) -> int:
    """Connect the viewers, say `ready`, say `complete` once every viewer has the final seq, and
    on `dump` (from the benchmark, on stdin) write the arrivals to the results file and leave."""
    crowd = Crowd(args.final_seq)
    async with asyncio.timeout(RUN_TIMEOUT_S):
        commands = await stdin_lines()
        await crowd.connect_all(args.url, args.viewers)
        tell("ready", len(crowd.viewers), crowd.failed)

        async def report_complete() -> None:
            await crowd.complete.wait()
            tell("complete")

        reporter = asyncio.create_task(report_complete())
        await commands.readline()  # "dump", or EOF if the benchmark went away
        reporter.cancel()
        crowd.dump(args.results)
        tell("dumped")
        await crowd.disconnect_all()
    return 0


# --- processes started by the benchmark ----------------------------------------------------------


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    """Terminate one process this benchmark started (by its PID) and reap it."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


@dataclass(eq=False)
class Server:
    proc: asyncio.subprocess.Process
    base_url: str
    drain: asyncio.Task[None]


async def start_server(store_url: str, show_file: Path, workdir: Path) -> Server:
    """Run `gala serve` on a free loopback port and wait for its "serving on" line."""
    errors = workdir / "server.stderr"
    with errors.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "gala", "serve", "--store", store_url, "--host", HOST, "--port", "0"),
            *("--show", str(show_file)),
            cwd=ROOT,
            env={**os.environ, "GALA_LOG_LEVEL": "WARNING"},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    assert proc.stdout is not None
    stdout = proc.stdout
    try:
        async with asyncio.timeout(SERVER_START_TIMEOUT_S):
            while True:
                line = (await stdout.readline()).decode(errors="replace")
                if not line:
                    raise BenchError(f"gala serve exited: {tail(errors)}")
                if line.startswith("gala is serving on "):
                    base_url = line.split()[4]
                    break
    except BaseException:
        await stop_process(proc)
        raise

    async def drain() -> None:
        while await stdout.readline():
            pass

    return Server(proc, base_url, asyncio.create_task(drain()))


@dataclass(eq=False)
class Generator:
    proc: asyncio.subprocess.Process
    results: Path
    errors: Path

    async def expect(self, word: str, timeout: float) -> list[str]:
        """Read the generator's stdout until a line starting with `word`."""
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    line = (await self.proc.stdout.readline()).decode(errors="replace")
                    if not line:
                        raise BenchError(f"load generator exited: {tail(self.errors)}")
                    words = line.split()
                    if words and words[0] == word:
                        return words
        except TimeoutError:
            raise BenchError(f"load generator sent no {word!r} in {timeout:.0f} s") from None

    async def collect(self) -> dict[str, Any]:
        """Ask for the arrivals, read them, and let the generator disconnect and exit."""
        self.send("dump")
        await self.expect("dumped", DUMP_TIMEOUT_S)
        body: dict[str, Any] = json.loads(self.results.read_text())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), DUMP_TIMEOUT_S)
        return body

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{command}\n".encode())


async def start_generator(
    base_url: str, viewers: int, final_seq: int, workdir: Path, index: int
) -> Generator:
    results = workdir / f"arrivals-{index}.json"
    errors = workdir / f"generator-{index}.stderr"
    with errors.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bench.cue_latency", "--worker", "--url", base_url),
            *("--viewers", str(viewers), "--final-seq", str(final_seq), "--results", str(results)),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    return Generator(proc, results, errors)


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# --- the producer --------------------------------------------------------------------------------


async def create_producer(store_url: str, username: str, password: str) -> None:
    store = await open_store(store_url)
    try:
        await store.hub.put_account(Account(username, hash_password(password), PRODUCER))
    finally:
        await store.close()


async def login(base_url: str, username: str, password: str) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base_url}/api/login", json={"username": username, "password": password}
        ) as resp,
    ):
        body = await resp.json()
    if not body.get("ok"):
        raise BenchError(f"login refused: {body}")
    return str(body["data"]["token"])


async def producer_call(client: socketio.AsyncClient, event: str, payload: Any) -> Any:
    reply = await client.call(event, payload, namespace="/producer", timeout=SOCKET_TIMEOUT_S)
    if not isinstance(reply, dict) or not reply.get("ok"):
        raise BenchError(f"{event} refused: {reply}")
    return reply["data"]


async def connect_producer(base_url: str, token: str) -> tuple[socketio.AsyncClient, str]:
    """Connect the console and return it with the cue on standby."""
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        base_url,
        transports=["websocket"],
        auth={"token": token},
        namespaces=["/producer"],
        wait_timeout=SOCKET_TIMEOUT_S,
    )
    state = await producer_call(client, "console:join", {"show_id": SHOW_ID})
    return client, state["stage"]["standby_cue_id"]


async def send_gos(
    client: socketio.AsyncClient, standby: str, cues: int, rate: float
) -> tuple[list[int], list[float]]:
    """GO `cues` times at `rate` per second; return each GO's send wall time (ns) and ack ms."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent_ns: list[int] = []
    ack_ms: list[float] = []
    for index in range(cues):
        await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
        sent = time.time_ns()
        sent_ns.append(sent)
        data = await producer_call(client, "go", {"show_id": SHOW_ID, "standby_cue_id": standby})
        ack_ms.append((time.time_ns() - sent) / 1e6)
        standby = data["standby_cue_id"]
    return sent_ns, ack_ms


# --- analysis ------------------------------------------------------------------------------------


def cue_of(seq: int) -> int:
    """The GO (0-based) that produced `seq`: the first GO makes seqs 1 (show.phase) and 2."""
    return 0 if seq <= 2 else seq - 2


def last_seq_of(cue: int) -> int:
    return cue + 2


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN when there are no values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Measurement:
    """Everything measured for one store, before formatting."""

    store: str
    viewers: int
    cues: int
    final_seq: int
    sent_ns: list[int]
    ack_ms: list[float]
    arrivals: list[tuple[list[int], list[int]]]
    failed: int
    errors: list[str]
    connect_s: float
    cue_phase_s: float
    server_cpu_s: float
    generator_cpu_s: float


COLUMNS = (
    "store",
    "viewers",
    "cues",
    "delivered/expected",
    "lost",
    "dup/ooo",
    "exact 1..final",
    "p50 ms",
    "p99 ms",
    "max ms",
    "last p50 ms",
    "last max ms",
    "srv CPU ms/cue",
    "srv µs/deliv",
    "gen CPU s",
)


@dataclass
class Row:
    """One table row: measured cells, or a note (skipped, failed); footnotes print below."""

    store: str
    note: str = ""
    cells: dict[str, str] = field(default_factory=dict)
    footnotes: list[str] = field(default_factory=list)


@dataclass
class Tally:
    """Counts over every viewer's arrivals."""

    cues: int
    latencies_ms: list[float] = field(default_factory=list)
    duplicates: int = 0
    out_of_order: int = 0
    exact: int = 0
    viewers_with_cue: list[int] = field(default_factory=list)
    last_arrival_ns: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.viewers_with_cue = [0] * self.cues
        self.last_arrival_ns = [0] * self.cues


def tally_viewer(tally: Tally, m: Measurement, seqs: list[int], times_ns: list[int]) -> None:
    """Add one viewer's arrivals: latency of each first delivery of seqs 1..final, duplicates,
    deliveries below an already-seen seq (or outside 1..final), and whether it was exact."""
    seen: set[int] = set()
    highest = 0
    for seq, at in zip(seqs, times_ns, strict=True):
        if seq in seen:
            tally.duplicates += 1
            continue
        seen.add(seq)
        if seq < highest or not 1 <= seq <= m.final_seq:
            tally.out_of_order += 1
        highest = max(highest, seq)
        if 1 <= seq <= m.final_seq:
            cue = cue_of(seq)
            tally.latencies_ms.append((at - m.sent_ns[cue]) / 1e6)
            if seq == last_seq_of(cue):
                tally.viewers_with_cue[cue] += 1
                tally.last_arrival_ns[cue] = max(tally.last_arrival_ns[cue], at)
    tally.exact += seqs == list(range(1, m.final_seq + 1))


def analyse(m: Measurement) -> Row:
    tally = Tally(m.cues)
    for seqs, times_ns in m.arrivals:
        tally_viewer(tally, m, seqs, times_ns)
    latencies = sorted(tally.latencies_ms)
    delivered = len(latencies)
    expected = m.viewers * m.final_seq
    last_viewer = sorted(
        (tally.last_arrival_ns[cue] - m.sent_ns[cue]) / 1e6
        for cue in range(m.cues)
        if m.arrivals and tally.viewers_with_cue[cue] == len(m.arrivals)
    )
    acks = sorted(m.ack_ms)
    cells = [
        m.store,
        str(m.viewers),
        str(m.cues),
        f"{delivered}/{expected}",
        str(expected - delivered),
        f"{tally.duplicates}/{tally.out_of_order}",
        f"{tally.exact}/{m.viewers}",
        ms(percentile(latencies, 50)),
        ms(percentile(latencies, 99)),
        ms(percentile(latencies, 100)),
        ms(percentile(last_viewer, 50)),
        ms(percentile(last_viewer, 100)),
        f"{m.server_cpu_s * 1e3 / m.cues:.1f}",
        f"{m.server_cpu_s * 1e6 / delivered:.1f}" if delivered else "-",
        f"{m.generator_cpu_s:.2f}",
    ]
    row = Row(m.store, cells=dict(zip(COLUMNS, cells, strict=True)))
    row.footnotes.append(
        f"{m.store}: connect {m.connect_s:.1f} s, cue phase {m.cue_phase_s:.1f} s, "
        f"server CPU {m.server_cpu_s:.2f} s, GO ack p50 {ms(percentile(acks, 50))} ms "
        f"max {ms(percentile(acks, 100))} ms, final seq {m.final_seq}, "
        f"cues reached by every joined viewer {len(last_viewer)}/{m.cues}"
    )
    if m.failed:
        row.footnotes.append(f"{m.store}: {m.failed} viewers failed to join: {m.errors}")
    return row


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def format_table(rows: list[Row]) -> str:
    lines = [[r.cells[c] for c in COLUMNS] for r in rows if r.cells]
    widths = [max([len(c)] + [len(line[i]) for line in lines]) for i, c in enumerate(COLUMNS)]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    out = [render(COLUMNS), "  ".join("-" * width for width in widths)]
    out += [render(line) for line in lines]
    out += [f"{r.store.ljust(widths[0])}  {r.note}" for r in rows if not r.cells]
    out += [""] + [note for r in rows for note in r.footnotes]
    return "\n".join(out).rstrip()


# --- one store -----------------------------------------------------------------------------------


async def measure_store(kind: str, args: argparse.Namespace) -> Row:
    """Set up a store, a node and the load generators, measure, and tear everything down."""
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gala-bench-")))
        if kind == "redis":
            try:
                store_url = stack.enter_context(redis_server())
            except FileNotFoundError:
                return Row(kind, note="skipped: redis-server is not installed")
        else:
            store_url = f"sqlite:///{workdir / 'gala.db'}"
        return analyse(await measure(kind, store_url, args, workdir, stack))


async def measure(
    kind: str,
    store_url: str,
    args: argparse.Namespace,
    workdir: Path,
    stack: contextlib.AsyncExitStack,
) -> Measurement:
    show_file = workdir / f"{SHOW_ID}.toml"
    show_file.write_text(show_toml(SHOW_ID, args.cues), encoding="utf-8")
    username, password = "bench-producer", secrets.token_urlsafe(12)
    await create_producer(store_url, username, password)

    server = await start_server(store_url, show_file, workdir)
    stack.push_async_callback(stop_process, server.proc)
    final_seq = args.cues + 1
    generators: list[Generator] = []
    for index, count in enumerate(split(args.viewers, args.processes)):
        generator = await start_generator(server.base_url, count, final_seq, workdir, index)
        stack.push_async_callback(stop_process, generator.proc)
        generators.append(generator)

    began = time.monotonic()
    for generator in generators:
        await generator.expect("ready", CONNECT_TIMEOUT_S - (time.monotonic() - began))
    connect_s = time.monotonic() - began

    token = await login(server.base_url, username, password)
    client, standby = await connect_producer(server.base_url, token)
    stack.push_async_callback(client.disconnect)

    pids = [server.proc.pid] + [g.proc.pid for g in generators]
    cpu_before = [cpu_seconds(pid) for pid in pids]
    began = time.monotonic()
    sent_ns, ack_ms = await send_gos(client, standby, args.cues, args.rate)
    await wait_complete(generators, DRAIN_TIMEOUT_S)
    cue_phase_s = time.monotonic() - began
    cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]

    arrivals: list[tuple[list[int], list[int]]] = []
    failed, errors = 0, []
    for generator in generators:
        body = await generator.collect()
        arrivals += list(zip(body["seqs"], body["times_ns"], strict=True))
        failed += body["failed"]
        errors += body["errors"]
    return Measurement(
        kind,
        args.viewers,
        args.cues,
        final_seq,
        sent_ns,
        ack_ms,
        arrivals,
        failed,
        errors,
        connect_s,
        cue_phase_s,
        server_cpu_s=cpu[0],
        generator_cpu_s=sum(cpu[1:]),
    )


async def wait_complete(generators: list[Generator], timeout: float) -> None:
    """Wait until every viewer has the final seq, or `timeout` (the analysis counts the loss)."""
    deadline = time.monotonic() + timeout
    for generator in generators:
        try:
            await generator.expect("complete", max(0.1, deadline - time.monotonic()))
        except BenchError:
            return


async def run(args: argparse.Namespace) -> list[Row]:
    kinds = ["sqlite", "redis"] if args.store == "both" else [args.store]
    rows: list[Row] = []
    async with asyncio.timeout(RUN_TIMEOUT_S):
        for kind in kinds:
            try:
                rows.append(await measure_store(kind, args))
            except (
                BenchError,
                OSError,
                aiohttp.ClientError,
                socketio.exceptions.SocketIOError,
            ) as error:
                rows.append(Row(kind, note=f"failed: {type(error).__name__}: {error}"))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    if args.worker:
        return asyncio.run(worker_main(args))
    print("$", shlex.join(sys.orig_argv), flush=True)
    print(
        f"viewers={args.viewers} cues={args.cues} rate={args.rate}/s store={args.store} "
        f"processes={args.processes} cpus={os.cpu_count()}\n",
        flush=True,
    )
    try:
        rows = asyncio.run(run(args))
    except TimeoutError:
        print(f"cue_latency: the run did not finish within {RUN_TIMEOUT_S:.0f} s", file=sys.stderr)
        return 1
    print(format_table(rows))
    return 0 if all(r.cells or r.note.startswith("skipped") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
