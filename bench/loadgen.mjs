// Fan-out load generator: N socket.io viewers on raw TCP sockets, speaking just enough HTTP/1.1
// upgrade, RFC 6455 websocket, engine.io v4 and socket.io v5 to connect, join and receive.
// It records when each viewer receives each seq, answers pings, and reports its own CPU so the
// benchmark can show it does not measure itself.
//
// Why raw sockets: the `ws` package spent about 20 us of CPU per received message here (stream
// parsing, events, buffer copies), so at 1,000 viewers it took longer to read one broadcast than
// the server took to write it, and the figures measured the load generator. Reads go through
// `onread` into one shared buffer. Server frames are
// unmasked and never fragmented by the servers under test, so reading them is a few byte reads.
//
// stdin: one JSON line {url, tokens, show_id, viewers, batch, expect_seqs: [first, last], timeout_s}
// stdout: "READY <joined>" once every viewer joined, then (after "DONE" on stdin or when every
// viewer has the last seq or on timeout) one JSON line with the results.
import crypto from "node:crypto";
import net from "node:net";
import { performance } from "node:perf_hooks";
import readline from "node:readline";

const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
const cfg = JSON.parse((await lines.next()).value);
const url = new URL(cfg.url);
const [first, last] = cfg.expect_seqs;
const span = last - first + 1;
const recv = new Float64Array(cfg.viewers * span).fill(-1);   // wall ms at receipt
const lastSeq = new Int32Array(cfg.viewers).fill(first - 1);
let dup = 0, outOfOrder = 0, stray = 0, joined = 0, closed = 0, complete = 0, bad = 0;
const wallNow = () => performance.timeOrigin + performance.now();
const sockets = [];

// A client frame must be masked; the all-zero mask leaves the payload as it is.
function clientFrame(text) {
  const payload = Buffer.from(text);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n]) : Buffer.from([0x81, 0x80 | 126, n >> 8, n & 255]);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}
const PONG = clientFrame("3");

// Every socket reads into this one buffer (`onread`: no stream, no allocation per read); a read is
// handled before the next one starts.
const READ_BUFFER = Buffer.alloc(1 << 16);

const SEQ = Buffer.from('"seq":');
function onEvent(i, buf, start, end) {
  let at = buf.indexOf(SEQ, start);
  if (at < 0 || at >= end) { stray++; return; }
  at += SEQ.length;
  let seq = 0;
  for (let c = buf[at]; c >= 0x30 && c <= 0x39; c = buf[++at]) seq = seq * 10 + (c - 0x30);
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
    const sock = net.connect({
      port: Number(url.port), host: url.hostname,
      onread: { buffer: READ_BUFFER, callback: (nread, buf) => { onData(buf.subarray(0, nread)); } },
    });
    sockets.push(sock);
    sock.setNoDelay(true);
    let state = -1;          // -1 upgrading, 0 engine.io open, 1 namespace, 2 joining, 3 joined
    let pending = null;      // bytes of an incomplete frame (or of the HTTP answer)
    const settle = () => { resolve(); };

    function onMessage(buf, start, end) {
      if (state === 3) {                                          // the hot path: bytes only
        if (end - start === 1 && buf[start] === 0x32) { sock.write(PONG); return; }
        if (buf[start] === 0x34 && buf[start + 1] === 0x32 && buf[start + 3] === 0x65) {
          onEvent(i, buf, start, end); return;
        }
      }
      const msg = buf.toString("utf8", start, end);
      if (msg === "2") { sock.write(PONG); return; }              // engine.io ping -> pong
      if (state === 0 && msg[0] === "0") {                        // engine.io open
        const token = cfg.tokens[i % cfg.tokens.length];
        sock.write(clientFrame("40" + JSON.stringify({ token })));
        state = 1; return;
      }
      if (state === 1 && msg.startsWith("40")) {                  // namespace connected
        sock.write(clientFrame('421["join",' + JSON.stringify({ show_id: cfg.show_id }) + "]"));
        state = 2; return;
      }
      if (state === 2 && msg.startsWith("431")) { state = 3; joined++; settle(); return; }
      if (msg.startsWith('42["event"')) onEvent(i, buf, start, end);
    }

    // Read every whole frame in `buf`; return the offset of the first byte not consumed.
    function onFrames(buf) {
      let at = 0;
      while (buf.length - at >= 2) {
        const opcode = buf[at] & 0x0f;
        let size = buf[at + 1] & 0x7f, head = 2;
        if (buf[at + 1] & 0x80) { bad++; sock.destroy(); return buf.length; }  // servers never mask
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
        else if (opcode === 0x8) { sock.end(); }
        else if (opcode === 0x9) {                                // websocket ping -> pong
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
        if (!buf.toString("latin1", 0, 12).startsWith("HTTP/1.1 101")) { bad++; sock.destroy(); return; }
        state = 0;
        buf = buf.subarray(endOfHead + 4);
      }
      const used = onFrames(buf);
      if (used < buf.length) pending = Buffer.from(buf.subarray(used));  // a copy: READ_BUFFER is reused
    }
    sock.on("close", () => { closed++; settle(); });
    sock.on("error", () => {});
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
  joined, closed, dup, out_of_order: outOfOrder, stray, complete, bad,
  cpu_join_s: (cpuJoin.user + cpuJoin.system) / 1e6,
  cpu_run_s: (cpuRun.user + cpuRun.system) / 1e6,
  recv: perSeq,
}) + "\n", () => {
  // exit only once the pipe took the whole line (a pipe write is asynchronous in Node)
  for (const sock of sockets) sock.destroy();
  process.exit(0);
});
