// Tap load generator: N socket.io viewers on raw TCP sockets (the approach of loadgen.mjs: its own
// HTTP upgrade, RFC 6455 framing, engine.io v4 and socket.io v5, every socket read into one
// shared buffer through `onread`), each with its own token, joined to the show. It then sends
// acked events (`time`, `buy`, `grab`) and records, per tap, the latency and the outcome.
//
// Two modes per phase:
// - "rate": open loop at an offered rate R for D seconds, tap j due at start + j / R, sent on
//   connection j % n. Latency is measured from the tap's *scheduled* time, so a server (or this
//   generator) that falls behind cannot hide the queueing (no coordinated omission);
// - "burst": every one of the first n connections sends one tap at the same moment; latency is
//   measured from that moment.
// An answer `busy` is counted (`busy_answers`) and the tap is sent again, with the same payload
// and so the same idempotency key, after the `retry_after_ms` in the error (latency still from
// the first send). A tap not answered within `grace_s` after the last scheduled send is `lost`.
//
// stdin, one JSON line each:
//   first: {url, show_id, batch}
//   {"cmd": "connect", "tokens": [...]}   -> {"joined", "failed", "connections", "cpu_s", "wall_s"}
//   {"cmd": "phase", "event": "time"|"buy"|"grab", "mode": "rate"|"burst", "rate", "duration_s",
//    "connections": n, "payload": {...fixed fields}, "key_prefix"?: "...", "drops"?: [drop ids],
//    "grace_s"}                            -> one JSON line of results (below)
//   {"cmd": "quit"}
// Each answer is one JSON line on stdout.
import crypto from "node:crypto";
import net from "node:net";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import readline from "node:readline";

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const lines = rl[Symbol.asyncIterator]();
const cfg = JSON.parse((await lines.next()).value);
const url = new URL(cfg.url);
const conns = [];         // joined connections: {sock, index}
let stray = 0, bad = 0, closedAfterJoin = 0;

// A client frame must be masked; the all-zero mask leaves the payload as it is. One allocation.
function clientFrame(text) {
  const n = Buffer.byteLength(text);
  if (n >= 65536) throw new Error("frame too large");
  const head = n < 126 ? 2 : 4;
  const frame = Buffer.allocUnsafe(head + 4 + n);
  frame[0] = 0x81;
  if (n < 126) frame[1] = 0x80 | n;
  else { frame[1] = 0x80 | 126; frame[2] = n >> 8; frame[3] = n & 255; }
  frame.writeUInt32BE(0, head);
  frame.write(text, head + 4);
  return frame;
}
const PONG = clientFrame("3");
const READ_BUFFER = Buffer.alloc(1 << 16);

// ---- the current phase (one at a time) ----
let phase = null;   // see runPhase
const codeIds = new Map([["ok", 0]]);
const codeNames = ["ok"];
function codeId(code) {
  let id = codeIds.get(code);
  if (id === undefined) { id = codeNames.length; codeIds.set(code, id); codeNames.push(code); }
  return id;
}

// An ack: `43<id>[{...}]`, at buf[start..end).
function onAck(conn, buf, start, end) {
  let at = start + 2, id = 0;
  for (let c = buf[at]; c >= 0x30 && c <= 0x39; c = buf[++at]) id = id * 10 + (c - 0x30);
  const now = performance.now();
  if (conn.joinAck === id) { conn.onJoin(); return; }
  const p = phase;
  if (p === null || id < p.base || id >= p.base + p.total) { stray++; return; }
  const j = id - p.base;
  if (p.outcome[j] >= 0) { stray++; return; }
  // fast path: {"ok":true or {"ok": true right after the '['
  let ok = false;
  if (buf[at] === 0x5b && buf[at + 1] === 0x7b) {
    const head = buf.toString("latin1", at + 2, Math.min(end, at + 14));
    if (head.startsWith('"ok":true') || head.startsWith('"ok": true')) ok = true;
  }
  let code = "ok", retryMs = -1;
  if (!ok) {
    let answer;
    try { answer = JSON.parse(buf.toString("utf8", at, end))[0]; } catch { answer = null; }
    if (answer && answer.ok === true) ok = true;
    else if (answer && answer.error && typeof answer.error.code === "string") {
      code = answer.error.code;
      if (code === "busy") retryMs = Number(answer.error.retry_after_ms ?? 0);
    } else code = "bad_answer";
  }
  if (code === "busy") {
    p.busyAnswers++;
    if (now + Math.max(0, retryMs) < p.deadline) {
      setTimeout(() => { if (p.outcome[j] < 0 && phase === p) p.send(j, conn); }, Math.max(0, retryMs));
      return;
    }
  }
  p.outcome[j] = ok ? 0 : codeId(code);
  p.latency[j] = now - p.sched(j);
  p.answered++;
  if (now > p.lastAnswer) p.lastAnswer = now;
}

function openViewer(token) {
  return new Promise((resolve) => {
    const conn = { sock: null, joinAck: 1, onJoin: null, joined: false };
    const sock = net.connect({
      port: Number(url.port), host: url.hostname,
      onread: { buffer: READ_BUFFER, callback: (nread, buf) => { onData(buf.subarray(0, nread)); } },
    });
    conn.sock = sock;
    sock.setNoDelay(true);
    let state = -1;          // -1 upgrading, 0 engine.io open, 1 namespace, 2 joining, 3 joined
    let pending = null;
    let settled = false;
    const settle = (ok) => { if (!settled) { settled = true; resolve(ok ? conn : null); } };
    conn.onJoin = () => { state = 3; conn.joined = true; settle(true); };

    function onMessage(buf, start, end) {
      const c0 = buf[start];
      if (end - start === 1 && c0 === 0x32) { sock.write(PONG); return; }   // engine.io ping
      if (c0 === 0x34) {
        const c1 = buf[start + 1];
        if (c1 === 0x33) { onAck(conn, buf, start, end); return; }         // 43: an ack
        if (c1 === 0x32 && state === 3) return;                              // 42: event, figures
      }
      const msg = buf.toString("utf8", start, end);
      if (state === 0 && msg[0] === "0") {
        sock.write(clientFrame("40" + JSON.stringify({ token })));
        state = 1; return;
      }
      if (state === 1 && msg.startsWith("40")) {
        sock.write(clientFrame('421["join",' + JSON.stringify({ show_id: cfg.show_id }) + "]"));
        state = 2; return;
      }
      if (state === 1 && msg.startsWith("44")) { bad++; sock.destroy(); settle(false); }
    }

    function onFrames(buf) {
      let at = 0;
      while (buf.length - at >= 2) {
        const opcode = buf[at] & 0x0f;
        let size = buf[at + 1] & 0x7f, head = 2;
        if (buf[at + 1] & 0x80) { bad++; sock.destroy(); return buf.length; }
        if (size === 126) {
          if (buf.length - at < 4) break;
          size = buf.readUInt16BE(at + 2); head = 4;
        } else if (size === 127) {
          if (buf.length - at < 10) break;
          size = Number(buf.readBigUInt64BE(at + 2)); head = 10;
        }
        if (buf.length - at < head + size) break;
        const start = at + head, end = start + size;
        if (opcode === 0x1) onMessage(buf, start, end);
        else if (opcode === 0x8) sock.end();
        else if (opcode === 0x9) {
          sock.write(Buffer.concat([Buffer.from([0x8a, 0x80 | size]), Buffer.alloc(4), buf.subarray(start, end)]));
        }
        at = end;
      }
      return at;
    }

    sock.on("connect", () => {
      const key = crypto.randomBytes(16).toString("base64");
      sock.write(
        `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        "Sec-WebSocket-Version: 13\r\n\r\n",
      );
    });
    function onData(chunk) {
      let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      pending = null;
      if (state === -1) {
        const endOfHead = buf.indexOf("\r\n\r\n");
        if (endOfHead < 0) { pending = Buffer.from(buf); return; }
        if (!buf.toString("latin1", 0, 12).startsWith("HTTP/1.1 101")) { bad++; sock.destroy(); settle(false); return; }
        state = 0;
        buf = buf.subarray(endOfHead + 4);
      }
      const used = onFrames(buf);
      if (used < buf.length) pending = Buffer.from(buf.subarray(used));
    }
    sock.on("close", () => { if (conn.joined) closedAfterJoin++; settle(false); });
    sock.on("error", () => {});
  });
}

async function connectAll(tokens) {
  const t0 = performance.now(), cpu0 = process.cpuUsage();
  let failed = 0;
  for (let i = 0; i < tokens.length; i += cfg.batch) {
    const batch = tokens.slice(i, i + cfg.batch).map(openViewer);
    for (const conn of await Promise.all(batch)) { if (conn) conns.push(conn); else failed++; }
  }
  const cpu = process.cpuUsage(cpu0);
  return { joined: tokens.length - failed, failed, connections: conns.length,
           cpu_s: (cpu.user + cpu.system) / 1e6, wall_s: (performance.now() - t0) / 1000 };
}

let nextAckId = 100;
function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  const v = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null;   // null: a lost tap
}

function runPhase(cmd) {
  return new Promise((resolve) => {
    const n = Math.min(cmd.connections ?? conns.length, conns.length);
    const burst = cmd.mode === "burst";
    const total = burst ? n : Math.max(1, Math.round(cmd.rate * cmd.duration_s));
    const interval = burst ? 0 : 1000 / cmd.rate;
    const grace = (cmd.grace_s ?? 5) * 1000;
    const fixed = JSON.stringify(cmd.payload ?? {}).slice(1, -1);
    const head = `["${cmd.event}",{` + fixed;
    const sep = fixed.length ? "," : "";
    const drops = cmd.drops ?? null;
    const keyPrefix = cmd.key_prefix ?? null;
    const isTime = cmd.event === "time";
    // Open loop, but bounded: with `max_behind_s` worth of taps unanswered the server is that far
    // behind, and a tap that falls due then is not sent but counted `unsent` (a failure, with an
    // infinite latency), so a server far slower than the offered rate has a bounded backlog to
    // drain after the step instead of minutes of it.
    const maxOutstanding = burst || !cmd.max_behind_s ? Infinity
      : Math.max(100, Math.ceil(cmd.rate * cmd.max_behind_s));
    let unsent = 0;
    const UNSENT = codeId("unsent");
    const base = nextAckId;
    nextAckId += total + 1;
    const p = {
      base, total, answered: 0, busyAnswers: 0, lastAnswer: 0, deadline: Infinity,
      outcome: new Int16Array(total).fill(-1), latency: new Float64Array(total).fill(Infinity),
      start: 0, sched: null, send: null,
    };
    p.sched = burst ? () => p.start : (j) => p.start + j * interval;
    p.send = (j, conn) => {
      let body = head;
      let s = sep;
      if (keyPrefix !== null) { body += `${s}"key":"${keyPrefix}${j}"`; s = ","; }
      if (drops !== null) { body += `${s}"drop_id":"${drops[Math.min(drops.length - 1, Math.floor(j / n))]}"`; s = ","; }
      if (isTime) { body += `${s}"t0":${Math.round(performance.timeOrigin + performance.now())}`; }
      conn.sock.write(clientFrame(`42${base + j}${body}}]`));
    };
    let sent = 0, maxLag = 0;
    const lags = new Float32Array(total);
    const cpu0 = process.cpuUsage();
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    phase = p;

    const finish = () => {
      const cpu = process.cpuUsage(cpu0);
      const end = performance.now();
      loopDelay.disable();
      phase = null;
      const outcomes = {};
      let lost = 0;
      for (let j = 0; j < total; j++) {
        const o = p.outcome[j];
        if (o < 0) { lost++; continue; }
        outcomes[codeNames[o]] = (outcomes[codeNames[o]] ?? 0) + 1;
      }
      if (lost) outcomes.lost = lost;
      const sorted = Float64Array.from(p.latency).sort();
      const answeredOnly = sorted.subarray(0, p.answered);   // the finite ones sort first
      const lastSched = p.sched(total - 1);
      resolve({
        event: cmd.event, mode: cmd.mode, offered_rate: burst ? null : cmd.rate, connections: n,
        sent: total, answered: p.answered, outcomes, busy_answers: p.busyAnswers, lost,
        p50_ms: percentile(sorted, 0.5), p90_ms: percentile(sorted, 0.9),
        p99_ms: percentile(sorted, 0.99), max_ms: percentile(sorted, 1),
        // over the answered taps only: what the answers that came looked like
        answered_p50_ms: percentile(answeredOnly, 0.5), answered_p99_ms: percentile(answeredOnly, 0.99),
        // answered per second over the time from the first scheduled send to the last answer
        answered_per_s: p.answered / Math.max(1e-9, (Math.max(p.lastAnswer, lastSched) - p.start) / 1000),
        first_send_to_last_answer_ms: p.answered ? Math.round((p.lastAnswer - p.start) * 1000) / 1000 : null,
        unsent,
        loop_delay_p99_ms: loopDelay.count ? loopDelay.percentile(99) / 1e6 : null,
        loop_delay_max_ms: loopDelay.count ? loopDelay.max / 1e6 : null,
        send_lag_p99_ms: percentile(Float64Array.from(lags).sort(), 0.99),
        send_lag_max_ms: Math.round(maxLag * 1000) / 1000,
        sending_s: (lastSched - p.start) / 1000,
        wall_s: (end - p.start) / 1000,
        cpu_s: (cpu.user + cpu.system) / 1e6,
        stray, closed: closedAfterJoin,
      });
    };
    const waitAnswers = () => {
      if (p.answered + unsent >= total || performance.now() > p.deadline) { finish(); return; }
      setTimeout(waitAnswers, 2);
    };

    if (burst) {
      p.start = performance.now();
      p.deadline = p.start + grace;
      for (let j = 0; j < total; j++) { lags[j] = performance.now() - p.start; p.send(j, conns[j]); }
      maxLag = performance.now() - p.start;   // how long writing the whole burst took
      waitAnswers();
      return;
    }
    p.start = performance.now() + 5;
    p.deadline = p.sched(total - 1) + grace;
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - p.start) / interval) + 1);
      for (; sent < due; sent++) {
        const lag = now - p.sched(sent);   // how late this tap goes out
        lags[sent] = lag;
        if (lag > maxLag) maxLag = lag;
        if (sent - unsent - p.answered >= maxOutstanding) {
          p.outcome[sent] = UNSENT; unsent++;
          continue;
        }
        p.send(sent, conns[sent % n]);
      }
      if (sent < total) setTimeout(tick, 1);
      else waitAnswers();
    };
    setTimeout(tick, 5);
  });
}

const out = (obj) => new Promise((r) => process.stdout.write(JSON.stringify(obj) + "\n", r));
await out({ ready: true });
for (;;) {
  const next = await lines.next();
  if (next.done) break;
  const cmd = JSON.parse(next.value);
  if (cmd.cmd === "quit") break;
  if (cmd.cmd === "connect") await out(await connectAll(cmd.tokens));
  else if (cmd.cmd === "phase") await out(await runPhase(cmd));
  else await out({ error: `unknown cmd ${cmd.cmd}` });
}
for (const c of conns) c.sock.destroy();
process.exit(0);
