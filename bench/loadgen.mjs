// Fan-out load generator: N socket.io viewers on raw websockets (the `ws` package from web/'s
// lockfile), speaking just enough engine.io v4 / socket.io v5 to connect, join and receive.
// It records when each viewer receives each seq, answers pings, and reports its own CPU so the
// benchmark can show it does not measure itself.
//
// stdin: one JSON line {url, tokens, show_id, viewers, batch, expect_seqs: [first, last], timeout_s}
// stdout: "READY <joined>" once every viewer joined, then (after "DONE" on stdin or when every
// viewer has the last seq or on timeout) one JSON line with the results.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
const require = createRequire(import.meta.url);
const WebSocket = require("../web/node_modules/ws");

const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
const cfg = JSON.parse((await lines.next()).value);
const [first, last] = cfg.expect_seqs;
const span = last - first + 1;
const recv = new Float64Array(cfg.viewers * span).fill(-1);   // wall ms at receipt
const lastSeq = new Int32Array(cfg.viewers).fill(first - 1);
let dup = 0, outOfOrder = 0, stray = 0, joined = 0, closed = 0, complete = 0;
const wallNow = () => performance.timeOrigin + performance.now();
const sockets = [];

const SEQ = Buffer.from('"seq":');
function onEvent(i, raw) {
  let at = raw.indexOf(SEQ) + SEQ.length, seq = 0;
  for (let c = raw[at]; c >= 0x30 && c <= 0x39; c = raw[++at]) seq = seq * 10 + (c - 0x30);
  if (seq < first || seq > last) { stray++; return; }
  const slot = i * span + (seq - first);
  if (recv[slot] >= 0) { dup++; return; }
  recv[slot] = wallNow();
  if (seq !== lastSeq[i] + 1) outOfOrder++;
  lastSeq[i] = seq;
  if (seq === last) complete++;
}

function openViewer(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(cfg.url, { perMessageDeflate: false });
    sockets.push(ws);
    let state = 0;
    ws.on("message", (raw) => {
      if (state === 3) {                                          // the hot path: bytes only
        if (raw.length === 1 && raw[0] === 0x32) { ws.send("3"); return; }  // ping -> pong
        if (raw[0] === 0x34 && raw[1] === 0x32 && raw[3] === 0x65) { onEvent(i, raw); return; }
      }
      const msg = raw.toString();
      if (msg === "2") { ws.send("3"); return; }                  // engine.io ping -> pong
      if (state === 0 && msg[0] === "0") {                        // engine.io open
        ws.send("40" + JSON.stringify({ token: cfg.tokens[i % cfg.tokens.length] }));
        state = 1; return;
      }
      if (state === 1 && msg.startsWith("40")) {                  // namespace connected
        ws.send('421["join",' + JSON.stringify({ show_id: cfg.show_id }) + "]");
        state = 2; return;
      }
      if (state === 2 && msg.startsWith("431")) { state = 3; joined++; resolve(); return; }
      if (msg.startsWith('42["event"')) onEvent(i, raw);
    });
    ws.on("close", () => { closed++; resolve(); });
    ws.on("error", () => {});
  });
}

const cpu0 = process.cpuUsage();
for (let i = 0; i < cfg.viewers; i += cfg.batch) {
  const batch = [];
  for (let j = i; j < Math.min(cfg.viewers, i + cfg.batch); j++) batch.push(openViewer(j));
  await Promise.all(batch);
}
const cpuJoin = process.cpuUsage(cpu0);
process.stdout.write(`READY ${joined}\n`);

const cpu1 = process.cpuUsage();
const deadline = Date.now() + cfg.timeout_s * 1000;
let done = false;
lines.next().then(() => { done = true; });
while (!done && complete < joined && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
}
const cpuRun = process.cpuUsage(cpu1);
const perSeq = [];
for (let s = 0; s < span; s++) {
  const times = [];
  for (let v = 0; v < cfg.viewers; v++) { const t = recv[v * span + s]; if (t >= 0) times.push(Math.round(t * 100) / 100); }
  perSeq.push(times);
}
process.stdout.write(JSON.stringify({
  joined, closed, dup, out_of_order: outOfOrder, stray, complete,
  cpu_join_s: (cpuJoin.user + cpuJoin.system) / 1e6,
  cpu_run_s: (cpuRun.user + cpuRun.system) / 1e6,
  recv: perSeq,
}) + "\n", () => {
  // exit only once the pipe took the whole line (a pipe write is asynchronous in Node)
  for (const ws of sockets) ws.terminate();
  process.exit(0);
});
