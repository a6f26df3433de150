"""Tap rates: how many `time` pings, buys and grabs a node answers per second, at what latency,
on each store, with a load generator that is not the bottleneck (`bench/tapgen.mjs`: Node on raw
TCP sockets, open loop, latency from each tap's scheduled send time).

Per store, a real node (`python -m gala serve --host 127.0.0.1 --port 0`) runs pinned to CPU 0
(with its redis-server, for the redis store), the generator and this driver on CPU 1. It
measures, in this order:

- `time` at an offered rate (`--time-rate`), then the highest rate whose p99 stays <= 20 ms;
- `buy` at `--rate`, then the highest rate whose p99 stays <= 100 ms; the same for `grab`;
- one step of `buy` and of `grab` at 3x the best sustained rate (it should refuse nothing with
  `internal_error`, however slow it gets);
- the bursts: 2,000 buyers tapping Buy at once on a sale of 100 units, and 5,000 grabbers on a
  drop of 1,000 envelopes (exactly 100 and 1,000 winners, asserted);
- then the last line of `gala audit` on the store.

    .venv/bin/python -m bench.tap_rates                         # both stores, ~5 minutes
    .venv/bin/python -m bench.tap_rates --store sqlite --rate 1000
    .venv/bin/python -m bench.tap_rates --only burst-buy --buyers 2000 --stock 100

Loopback only, bounded in time; the processes it started are stopped by their PIDs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from tests.support import add_producer, redis_server

ROOT = Path(__file__).resolve().parent.parent
SHOW = "tap-show"
LOCALES = ("en", "zh")
BULK = "bulk"  # the sustained buys: stock and per-viewer limit for the whole run
LIMITED = "limited"  # the buy burst: `--stock` units, one per viewer
BULK_PRICE_MINOR = 100
LIMITED_PRICE_MINOR = 12_990
WALLET_GRANT_MINOR = 10_000_000  # each viewer's demo grant: 1,000 bulk units and a limited one
BULK_STOCK = 10_000_000  # a sponsor product's maximum
BULK_PER_VIEWER = 1000  # the show file's maximum
BUDGET_PER_ENVELOPE_MINOR = 888
SHOW_BUDGET_MINOR = 10**11  # the show's demo budget: every drop of the run
TIME_P99_MS = 20.0
TAP_P99_MS = 100.0
TICKS = os.sysconf("SC_CLK_TCK")
NODE_LOG = "node.log"
CONTENDED = 0.10  # other processes using more than this share of a core: a contended step
GEN_BOUND = 0.80  # the generator using more than this share of its core: it may be the limit
PHASES = ("time", "buy", "grab", "overload", "burst-buy", "burst-grab")


# ---------------------------------------------------------------- processes and CPU


def pinned(cpu: int) -> Any:
    def apply() -> None:
        if (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {cpu})

    return apply


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_ticks() -> tuple[int, int, int]:
    """(all ticks, busy ticks, stolen ticks) of the machine so far, from /proc/stat: busy is
    user + nice + system, what processes ran (not interrupts: the loopback's softirq work for
    our own sockets is counted there, and would look like another process)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return sum(fields), user + nice + system, steal


def stop(proc: subprocess.Popen[Any] | None) -> None:
    """Stop a process this benchmark started, by its PID."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def redis_pid(url: str) -> int | None:
    """The PID of the private redis-server at `url` (from INFO), to pin it and read its CPU."""
    host, port = url.removeprefix("redis://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=2) as conn:
        conn.sendall(b"INFO server\r\n")
        data = b""
        while b"process_id:" not in data or not data.endswith(b"\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    found = re.search(rb"process_id:(\d+)", data)
    return int(found.group(1)) if found else None


@contextlib.contextmanager
def store_of(kind: str) -> Iterator[tuple[str, Path, int | None]]:
    """(store URL, work directory, redis-server PID or None) of a fresh store."""
    with tempfile.TemporaryDirectory(prefix="gala-taps-") as tmp:
        workdir = Path(tmp)
        if kind == "redis":
            with redis_server() as url:
                pid = redis_pid(url)
                if pid is not None and (os.cpu_count() or 1) > 1:
                    os.sched_setaffinity(pid, {0})  # the server's side: with the node
                yield url, workdir, pid
        else:
            yield f"sqlite:///{workdir / 'gala.db'}", workdir, None


def show_file(workdir: Path, stock: int) -> Path:
    def name(text: str) -> str:
        return "{ " + ", ".join(f'{loc} = "{text} {loc}"' for loc in LOCALES) + " }"

    lines = [
        "[show]",
        f'id = "{SHOW}"',
        'title = "Taps"',
        'currency = "CNY"',
        f"locales = {json.dumps(list(LOCALES))}",
        "",
        "[sponsors.acme]",
        'name = "Acme"',
        "",
        f"[products.{BULK}]",
        'sponsor = "acme"',
        f"price_minor = {BULK_PRICE_MINOR}",
        f"stock = {BULK_STOCK}",
        f"per_viewer_limit = {BULK_PER_VIEWER}",
        f"name = {name('Bulk')}",
        "",
        f"[products.{LIMITED}]",
        'sponsor = "acme"',
        f"price_minor = {LIMITED_PRICE_MINOR}",
        f"stock = {stock}",
        "per_viewer_limit = 1",
        f"name = {name('Limited')}",
        "",
        "[[cues]]",
        'id = "c1"',
        'label = "Open the bulk sale"',
        f'actions = [{{ do = "sale.open", product = "{BULK}", duration_ms = 3600000 }}]',
        "",
        "[[cues]]",
        'id = "c2"',
        'label = "Open the limited sale"',
        f'actions = [{{ do = "sale.open", product = "{LIMITED}", duration_ms = 3600000 }}]',
        "",
        "[[cues]]",
        'id = "c3"',
        'label = "Thank you"',
        "actions = []",
        "",
    ]
    path = workdir / "taps.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def read_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    line = await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline), timeout_s)
    if not line:
        raise RuntimeError(f"process {proc.pid} ended (exit {proc.poll()})")
    return line


@contextlib.asynccontextmanager
async def gala_node(
    store: str, show: Path, workdir: Path, grab_taps_per_s: int
) -> AsyncIterator[tuple[subprocess.Popen[str], str]]:
    env = {
        **os.environ,
        "GALA_DEMO_WALLET_GRANT_MINOR": str(WALLET_GRANT_MINOR),
        "GALA_DEMO_BUDGET_MINOR": str(SHOW_BUDGET_MINOR),
        "GALA_GRAB_TAPS_PER_S": str(grab_taps_per_s),
        "GALA_GRAB_TAP_BURST": str(grab_taps_per_s),
        "GALA_LOG_LEVEL": "WARNING",
    }
    log = (workdir / NODE_LOG).open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gala",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--store",
            store,
            "--show",
            str(show),
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,  # its log (JSON lines): summarised at the end
        text=True,
        preexec_fn=pinned(0),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            line = await read_line(proc, max(0.1, deadline - time.monotonic()))
            found = re.search(r"serving on (http://\S+)", line)
            if found:
                break
        # keep reading its stdout so a chatty node never blocks on a full pipe
        loop = asyncio.get_running_loop()
        assert proc.stdout is not None
        loop.run_in_executor(None, proc.stdout.read)
        yield proc, found.group(1)
    finally:
        stop(proc)
        log.close()


async def viewer_tokens(base: str, count: int) -> list[str]:
    """`count` viewer tokens from `POST /api/viewer-token`; each viewer gets the demo grant."""
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> str:
            async with http.post(f"{base}/api/viewer-token") as resp:
                return str((await resp.json())["data"]["token"])

        tokens: list[str] = []
        for start in range(0, count, 256):
            tokens += await asyncio.gather(*(one() for _ in range(min(256, count - start))))
        return tokens


# ---------------------------------------------------------------- the generator


class TapGen:
    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            ["node", str(ROOT / "bench" / "tapgen.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=pinned(1),
        )
        self.url = url

    async def start(self) -> None:
        await self.send({"url": self.url, "show_id": SHOW, "batch": 200}, 30)

    async def send(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout_s
        while True:
            line = await read_line(self.proc, max(0.1, deadline - time.monotonic()))
            if line.startswith("{"):
                answer: dict[str, Any] = json.loads(line)
                return answer
            print(f"tapgen: {line.rstrip()}", file=sys.stderr)  # e.g. NODE_OPTIONS=--trace-gc

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        stop(self.proc)


# ---------------------------------------------------------------- one phase, one row


@dataclass
class Row:
    label: str
    event: str
    offered: float | None  # None: a burst
    result: dict[str, Any]
    srv_cpu_s: float
    redis_cpu_s: float
    other_share: float  # other processes' CPU over the phase, in cores (machine busy - ours)
    note: str = ""

    @property
    def answered(self) -> int:
        return int(self.result["answered"])

    def per_tap_us(self, seconds: float) -> float:
        return seconds * 1e6 / max(1, self.answered)

    @property
    def gen_share(self) -> float:
        """The generator's CPU over the phase's wall time: its share of its core."""
        return float(self.result["cpu_s"]) / max(1e-9, float(self.result["wall_s"]))

    @property
    def internal_errors(self) -> int:
        return int(self.result["outcomes"].get("internal_error", 0))

    def p99(self) -> float:
        value = self.result["p99_ms"]
        return math.inf if value is None else float(value)

    def passes(self, limit_ms: float) -> bool:
        outcomes = self.result["outcomes"]
        return (
            self.p99() <= limit_ms
            and self.result["lost"] == 0
            and self.result["unsent"] == 0
            and self.internal_errors == 0
            and outcomes.get("busy", 0) == 0
        )


def ms(value: Any) -> str:
    return "inf" if value is None else f"{float(value):.1f}"


def outcomes_text(outcomes: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1]))


@dataclass
class Run:
    kind: str
    node_pid: int
    redis_pid: int | None
    gen: TapGen
    producer: socketio.AsyncClient
    args: argparse.Namespace
    rows: list[Row] = field(default_factory=list)
    best: dict[str, float | None] = field(default_factory=dict)
    bursts: list[tuple[str, Row, int, bool]] = field(default_factory=list)
    phase_no: int = 0
    drops_launched: int = 0
    last_drop_closes_ms: int = 0
    connections: int = 0
    sustained_viewers: int = 0

    async def quiet(self) -> None:
        """Wait (at most 20 s) until the node is idle: a step does not start on the backlog of
        the one before."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            before = cpu_seconds(self.node_pid) + cpu_seconds(self.redis_pid)
            await asyncio.sleep(0.25)
            if cpu_seconds(self.node_pid) + cpu_seconds(self.redis_pid) - before <= 0.05:
                return

    async def phase(
        self,
        label: str,
        event: str,
        *,
        rate: float | None = None,
        duration_s: float = 0.0,
        connections: int | None = None,
        payload: dict[str, Any] | None = None,
        keyed: bool = False,
        drops: list[str] | None = None,
        grace_s: float = 5.0,
    ) -> Row:
        self.phase_no += 1
        command: dict[str, Any] = {
            "cmd": "phase",
            "event": event,
            "mode": "burst" if rate is None else "rate",
            "rate": rate,
            "duration_s": duration_s,
            "connections": connections or self.connections,
            "payload": payload or {},
            "grace_s": grace_s,
            "max_behind_s": self.args.max_behind_s,
        }
        if keyed:
            command["key_prefix"] = f"tap-{self.kind[:2]}{self.phase_no:03d}-"
        if drops is not None:
            command["drops"] = drops
        ours = (self.node_pid, self.redis_pid, self.gen.proc.pid, os.getpid())
        before = [cpu_seconds(pid) for pid in ours]
        machine0, wall0 = machine_ticks(), time.monotonic()
        result = await self.gen.send(command, duration_s + grace_s + 60)
        after = [cpu_seconds(pid) for pid in ours]
        machine1, wall = machine_ticks(), time.monotonic() - wall0
        used = [b - a for a, b in zip(before, after, strict=True)]
        other = (machine1[1] - machine0[1]) / TICKS - sum(used)
        row = Row(label, event, rate, result, used[0], used[1], max(0.0, other) / max(1e-9, wall))
        if result["lost"] or result["unsent"]:
            row.note = (
                f"answered p50 {ms(result['answered_p50_ms'])} p99 {ms(result['answered_p99_ms'])}"
            )
        if row.gen_share > GEN_BOUND:
            row.note = f"{row.note} generator-bound".strip()
        self.rows.append(row)
        if self.args.verbose:
            print(f"  [{self.kind}] {format_row(row)}", flush=True)
        return row

    # ------------------------------------------------------------ what each event needs

    async def launch_drops(self, count: int, envelopes: int, open_s: float) -> list[str]:
        """`count` drops of `envelopes` envelopes each, launched from the console (funded by
        the show's demo budget), opening at once and closing `open_s` later."""
        ids = []
        for _ in range(count):
            self.drops_launched += 1
            ack = await self.producer.call(
                "drop:launch",
                {
                    "show_id": SHOW,
                    "key": f"bench-drop-{self.drops_launched:05d}",
                    "budget_minor": envelopes * BUDGET_PER_ENVELOPE_MINOR,
                    "envelopes": envelopes,
                    "min_minor": 1,
                    "countdown_ms": 0,
                    "duration_ms": max(1000, int(open_s * 1000)),
                    "name": f"d{self.drops_launched}",
                },
                namespace="/producer",
                timeout=60,
            )
            if not ack["ok"]:
                raise RuntimeError(f"drop:launch refused: {ack['error']}")
            drop = ack["data"]["drop"]
            ids.append(str(drop["drop_id"]))
            self.last_drop_closes_ms = max(self.last_drop_closes_ms, int(drop["closes_at_ms"]))
        return ids

    async def tap_step(
        self, label: str, event: str, rate: float, duration_s: float, grace_s: float
    ) -> Row:
        await self.quiet()
        n = self.connections
        if event == "time":
            return await self.phase(
                label, "time", rate=rate, duration_s=duration_s, grace_s=grace_s
            )
        if event == "buy":
            return await self.phase(
                label,
                "buy",
                rate=rate,
                duration_s=duration_s,
                payload={"show_id": SHOW, "product_id": BULK, "quantity": 1},
                keyed=True,
                grace_s=grace_s,
            )
        # grab: tap j goes to viewer j % n and drop j // n, each drop has n envelopes, so
        # every viewer grabs each drop once and every tap should win.
        taps = max(1, round(rate * duration_s))
        drops = await self.launch_drops(math.ceil(taps / n), n, duration_s + grace_s + 30)
        await self.quiet()
        return await self.phase(
            label,
            "grab",
            rate=rate,
            duration_s=duration_s,
            payload={"show_id": SHOW},
            drops=drops,
            grace_s=grace_s,
        )

    async def ladder(self, event: str, limit_ms: float, start: float, cap: float) -> float | None:
        """The highest offered rate whose p99 stays <= limit_ms (and loses nothing): double
        from `start` until a step fails (halve while the first ones fail), then bisect between
        the best and the first failure above it until they are within 20 %; bounded in steps
        and in time."""
        args = self.args
        deadline = time.monotonic() + args.ladder_s
        best: float | None = None
        fail: float | None = None
        rate = start
        for _ in range(args.ladder_steps):
            if time.monotonic() > deadline:
                break
            row = await self.tap_step(
                f"{event} ladder", event, rate, args.step_s, args.step_grace_s
            )
            if not row.passes(limit_ms) and row.other_share > CONTENDED:
                # other processes took CPU during the step: repeat it once before believing it
                row.note = f"contended: repeated {row.note}".strip()
                row = await self.tap_step(
                    f"{event} ladder", event, rate, args.step_s, args.step_grace_s
                )
            if row.passes(limit_ms):
                best = rate
            else:
                fail = rate
                failure = (
                    "lost"
                    if row.result["lost"]
                    else "unsent"
                    if row.result["unsent"]
                    else f"p99>{limit_ms:.0f}"
                )
                row.note = f"{failure} {row.note}".strip()
            if fail is None:
                if rate * 2 > cap:
                    break
                rate *= 2
            elif best is None:
                rate = round(rate / 2)
                if rate < 50:
                    break
            else:
                if fail / best <= 1.2:
                    break
                rate = round(math.sqrt(best * fail) / 50) * 50
                if rate in (best, fail):
                    break
        return best


# ---------------------------------------------------------------- printing


def format_row(row: Row) -> str:
    r = row.result
    offered = "burst" if row.offered is None else f"{row.offered:.0f}"
    return (
        f"{row.label:14} {offered:>7} {r['sent']:>7} {r['answered_per_s']:>9.0f} "
        f"{ms(r['p50_ms']):>7} {ms(r['p99_ms']):>7} {ms(r['max_ms']):>8} "
        f"{row.per_tap_us(row.srv_cpu_s):>7.0f} {row.per_tap_us(row.redis_cpu_s):>7.0f} "
        f"{row.per_tap_us(float(r['cpu_s'])):>7.1f} {row.gen_share * 100:>5.0f}% "
        f"{ms(r['send_lag_p99_ms']):>5}/{ms(r['send_lag_max_ms']):<5} "
        f"{ms(r['loop_delay_max_ms']):>5} {row.other_share * 100:>5.0f}% "
        f"{row.internal_errors:>4} {r['busy_answers']:>5}  "
        f"{outcomes_text(r['outcomes'])}{'  ' + row.note if row.note else ''}"
    )


HEADER = (
    f"{'phase':14} {'offer/s':>7} {'sent':>7} {'answer/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'max ms':>8} {'srv µs':>7} {'rds µs':>7} {'gen µs':>7} {'gen%':>6} {'lag p99/max':>11} "
    f"{'loop':>5} {'other':>6} "
    f"{'ierr':>4} {'busy':>5}  outcomes"
)


def print_run(
    run: Run, audit_line: str, node_log: tuple[int, list[str]], steal: float, wall_s: float
) -> bool:
    print()
    print(
        f"== {run.kind}: node pid {run.node_pid} on CPU 0"
        f"{' with redis-server' if run.redis_pid else ''}, generator on CPU 1, "
        f"{run.sustained_viewers or run.connections} viewers"
        f"{' for the sustained phases' if run.sustained_viewers else ''}; {wall_s:.0f} s, "
        f"steal {steal:.1f} %"
    )
    print(HEADER)
    print("-" * len(HEADER))
    for row in run.rows:
        print(format_row(row))
    ok = True
    print()

    def best_text(event: str, limit: float) -> str:
        best = run.best.get(event)
        return f"{best:.0f}/s" if best is not None else "none (the lowest step failed)"

    if "time" in run.best:
        print(
            f"{run.kind}: highest sustained `time` rate with p99 <= {TIME_P99_MS:.0f} ms: "
            f"{best_text('time', TIME_P99_MS)}"
        )
    for event in ("buy", "grab"):
        if event in run.best:
            print(
                f"{run.kind}: highest sustained `{event}` rate with p99 <= {TAP_P99_MS:.0f} ms: "
                f"{best_text(event, TAP_P99_MS)}"
            )
    for label, row, expected, passed in run.bursts:
        r = row.result
        won = r["outcomes"].get("ok", 0)
        ok &= passed
        print(
            f"{run.kind}: {label}: {r['sent']} taps, first send to last answer "
            f"{ms(r['first_send_to_last_answer_ms'])} ms, p50 {ms(r['p50_ms'])} ms, "
            f"p99 {ms(r['p99_ms'])} ms, winners {won} (expected {expected}: "
            f"{'OK' if passed else 'FAIL'}), {outcomes_text(r['outcomes'])}"
        )
    errors = sum(row.internal_errors for row in run.rows)
    lost = sum(int(row.result["lost"]) for row in run.rows)
    unsent = sum(int(row.result["unsent"]) for row in run.rows)
    closed = max((int(row.result["closed"]) for row in run.rows), default=0)
    print(
        f"{run.kind}: internal_error: {errors} over {len(run.rows)} steps "
        f"({'OK' if errors == 0 else 'FAIL'}); lost taps: {lost}; unsent: {unsent}; "
        f"connections the server closed: {closed}"
    )
    ok &= errors == 0
    gen_max = max((row.gen_share for row in run.rows), default=0.0)
    print(f"{run.kind}: generator CPU: at most {gen_max * 100:.0f} % of its core in any step")
    contended = [row for row in run.rows if row.other_share > CONTENDED]
    print(
        f"{run.kind}: other processes on the machine: at most "
        f"{max((row.other_share for row in run.rows), default=0.0) * 100:.0f} % of a core; "
        f"{len(contended)} of {len(run.rows)} steps contended (> {CONTENDED * 100:.0f} %)"
    )
    total, node_errors = node_log
    print(f"{run.kind}: node log: {total} ERROR lines" + (", most frequent:" if total else ""))
    for line in node_errors:
        print(f"    {line}")
    *differences, summary = audit_line.splitlines()
    print(f"{run.kind}: {summary}")
    for line in differences:
        print(line)
    ok &= summary.startswith("audit clean")
    return ok


def log_summary(workdir: Path) -> tuple[int, list[str]]:
    """How many ERROR and CRITICAL lines the node logged, and the most frequent (by message and
    exception)."""
    counts: Counter[str] = Counter()
    path = workdir / NODE_LOG
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        try:
            entry = json.loads(line)
        except ValueError:
            if "Error" in line or "Traceback" in line:
                counts[line.strip()[:160]] += 1
            continue
        if entry.get("level") in ("ERROR", "CRITICAL"):
            trace = str(entry.get("exc_info") or "").strip().splitlines()
            counts[f"{entry.get('message')}: {trace[-1] if trace else ''}"[:200]] += 1
    return sum(counts.values()), [f"{n} x {what}" for what, n in counts.most_common(5)]


def audit(store: str, workdir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gala", "audit", "--store", store],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
        check=False,
    )
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    if not lines:
        return f"audit printed nothing (exit {done.returncode})"
    # the differences it names (the first ten), then its last line: the summary
    shown = [f"    {line}" for line in lines[:-1][:10]]
    return "\n".join([*shown, lines[-1]]) if shown else lines[-1]


# ---------------------------------------------------------------- one store


async def producer_client(base: str) -> socketio.AsyncClient:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/api/login", json={"username": "bench", "password": "bench-password"}
        ) as resp,
    ):
        token = (await resp.json())["data"]["token"]
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        base, transports=["websocket"], auth={"token": token}, namespaces=["/producer"]
    )
    return client


async def go(producer: socketio.AsyncClient, cue: str) -> None:
    ack = await producer.call(
        "go", {"show_id": SHOW, "standby_cue_id": cue}, namespace="/producer", timeout=30
    )
    if not ack["ok"]:
        raise RuntimeError(f"GO {cue} refused: {ack['error']}")


async def measure(kind: str, args: argparse.Namespace, only: set[str]) -> bool:
    started = time.monotonic()
    ticks0 = machine_ticks()
    with store_of(kind) as (store, workdir, rpid):
        show = show_file(workdir, args.stock)
        add_producer(store, "bench", "bench-password", workdir)
        gen: TapGen | None = None
        producer: socketio.AsyncClient | None = None
        async with gala_node(store, show, workdir, args.grab_taps_per_s) as (proc, base):
            try:
                steady = bool({"time", "buy", "grab", "overload"} & only)
                needed = max(
                    args.viewers if steady else 0,
                    args.buyers if "burst-buy" in only else 0,
                    args.grabbers if "burst-grab" in only else 0,
                )
                tokens = await viewer_tokens(base, needed)
                first = args.viewers if steady else needed
                producer = await producer_client(base)
                await go(producer, "c1")  # the show goes live, the bulk sale opens
                await go(producer, "c2")  # the limited sale opens
                port = base.rsplit(":", 1)[1]
                gen = TapGen(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
                await gen.start()
                run = Run(kind, proc.pid, rpid, gen, producer, args)
                joined = await gen.send({"cmd": "connect", "tokens": tokens[:first]}, 300)
                if joined["failed"]:
                    print(f"{kind}: {joined['failed']} viewers failed to join")
                run.connections = int(joined["connections"])
                run.sustained_viewers = run.connections if steady else 0
                await sustained(run, only)
                if {"burst-buy", "burst-grab"} & only:
                    if len(tokens) > first:
                        more = await gen.send({"cmd": "connect", "tokens": tokens[first:]}, 300)
                        if more["failed"]:
                            print(f"{kind}: {more['failed']} viewers failed to join")
                        run.connections = int(more["connections"])
                    await bursts(run, only)
                # the sweeper closes the emptied drops before the audit
                await asyncio.sleep(2.0)
            finally:
                if producer is not None:
                    await producer.disconnect()
                if gen is not None:
                    gen.close()
        audit_line = audit(store, workdir)
        node_log = log_summary(workdir)
    ticks1 = machine_ticks()
    steal = 100 * (ticks1[2] - ticks0[2]) / max(1, ticks1[0] - ticks0[0])
    return print_run(run, audit_line, node_log, steal, time.monotonic() - started)


async def sustained(run: Run, only: set[str]) -> None:
    args = run.args
    if "time" in only:
        await run.tap_step("time", "time", args.time_rate, args.duration_s, args.grace_s)
        run.best["time"] = await run.ladder("time", TIME_P99_MS, args.time_rate / 4, 80_000)
    for event in ("buy", "grab"):
        if event in only:
            await run.tap_step(event, event, args.rate, args.duration_s, args.grace_s)
            run.best[event] = await run.ladder(event, TAP_P99_MS, args.rate / 4, 64_000)
    if "overload" in only:
        for event in ("buy", "grab"):
            best = run.best.get(event) or args.rate
            row = await run.tap_step(
                f"{event} 3x best", event, 3 * best, args.overload_s, args.grace_s
            )
            row.note = f"3x the best sustained rate {row.note}".strip()


async def bursts(run: Run, only: set[str]) -> None:
    args = run.args
    if "burst-buy" in only:
        await run.quiet()
        row = await run.phase(
            f"buy burst {args.buyers}",
            "buy",
            connections=args.buyers,
            payload={"show_id": SHOW, "product_id": LIMITED, "quantity": 1},
            keyed=True,
            grace_s=args.burst_grace_s,
        )
        won = row.result["outcomes"].get("ok", 0)
        expected = min(args.stock, args.buyers)
        run.bursts.append(
            (f"{args.buyers} buyers on {args.stock} units", row, expected, won == expected)
        )
    if "burst-grab" in only:
        [drop] = await run.launch_drops(1, args.envelopes, 10.0)
        await run.quiet()
        row = await run.phase(
            f"grab burst {args.grabbers}",
            "grab",
            connections=args.grabbers,
            payload={"show_id": SHOW, "drop_id": drop},
            grace_s=args.burst_grace_s,
        )
        won = row.result["outcomes"].get("ok", 0)
        expected = min(args.envelopes, args.grabbers)
        run.bursts.append(
            (
                f"{args.grabbers} grabbers on {args.envelopes} envelopes",
                row,
                expected,
                won == expected,
            )
        )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", choices=["sqlite", "redis", "both"], default="both")
    p.add_argument("--only", default=",".join(PHASES), help=f"comma-separated: {','.join(PHASES)}")
    p.add_argument("--viewers", type=int, default=1000, help="connections for sustained taps")
    p.add_argument("--time-rate", type=float, default=10_000, help="offered `time` pings/s")
    p.add_argument("--rate", type=float, default=2000, help="offered buys/s and grabs/s")
    p.add_argument("--duration-s", type=float, default=5.0, help="seconds per sustained phase")
    p.add_argument("--step-s", type=float, default=2.5, help="seconds per ladder step")
    p.add_argument("--ladder-steps", type=int, default=8, help="most steps per ladder")
    p.add_argument("--ladder-s", type=float, default=40.0, help="most seconds per ladder")
    p.add_argument("--overload-s", type=float, default=2.0, help="seconds of the 3x steps")
    p.add_argument("--grace-s", type=float, default=10.0, help="wait for late answers (s)")
    p.add_argument("--step-grace-s", type=float, default=3.0, help="the same, ladder steps")
    p.add_argument("--burst-grace-s", type=float, default=30.0, help="the same, bursts")
    p.add_argument("--buyers", type=int, default=2000)
    p.add_argument("--stock", type=int, default=100)
    p.add_argument("--grabbers", type=int, default=5000)
    p.add_argument("--envelopes", type=int, default=1000)
    p.add_argument(
        "--grab-taps-per-s",
        type=int,
        default=10_000,
        help="GALA_GRAB_TAPS_PER_S (and _BURST) of the node: the per-viewer limit is lifted, "
        "since the benchmark taps from fewer viewers than a show has",
    )
    p.add_argument(
        "--max-behind-s",
        type=float,
        default=1.0,
        help="at most this many seconds of offered taps unanswered; the rest are `unsent`",
    )
    p.add_argument("--verbose", action="store_true", help="print each step as it ends")
    return p


async def main(argv: list[str] | None = None, shown: str | None = None) -> int:
    """Run the benchmark; `shown` is the command line to print (an entry point's own)."""
    p = parser()
    args = p.parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    if not only <= set(PHASES):
        p.error(f"--only takes {','.join(PHASES)}")
    if not 1 <= args.viewers <= 20_000 or not 1 <= args.buyers <= 20_000:
        p.error("--viewers and --buyers must be between 1 and 20000")
    if not 1 <= args.grabbers <= 20_000 or not 1 <= args.envelopes <= 100_000:
        p.error("--grabbers must be 1..20000 and --envelopes 1..100000")
    if not 1 <= args.stock <= 10**6:
        p.error("--stock must be between 1 and 1000000")
    if shutil.which("node") is None:
        p.error("node is needed for the load generator (bench/tapgen.mjs)")
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # this driver is load, not server
    shown = shown or " ".join(["bench.tap_rates", *(sys.argv[1:] if argv is None else argv)])
    print(f"$ {Path(sys.executable).name} -m {shown}")
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"node (and redis-server) on CPU 0, generator and driver on CPU 1",
        flush=True,
    )
    ok = True
    kinds = ["sqlite", "redis"] if args.store == "both" else [args.store]
    for kind in kinds:
        if kind == "redis" and shutil.which("redis-server") is None:
            print("redis: skipped (no redis-server)")
            continue
        ok &= await asyncio.wait_for(measure(kind, args, only), 600)
    return 0 if ok else 1


def on_sigterm(_signum: int, _frame: object) -> None:
    """SIGTERM ends the run like Ctrl-C: the finally blocks stop what it started, by PID."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_sigterm)
    sys.exit(asyncio.run(main()))
