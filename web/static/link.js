/* The link to the server, shared by every page that holds a socket (viewer, console).

   It reconnects by itself after ANY disconnect: a network drop, a refused handshake, and the
   server's own disconnect ("io server disconnect", which socket.io-client never retries by
   itself). Each attempt waits a random time in [min, cap] where cap doubles per failed attempt
   up to MAX_DELAY_MS ("full jitter"), so ten thousand phones that lost the same node do not all
   come back in the same millisecond. A node that is draining sends `drain {within_ms}` first:
   the page then picks its moment at random inside that window.

   Commands are never queued: `send` refuses at once, with `{code: "offline"}`, when the link is
   down (socket.io-client would otherwise buffer the packet and send it on the next connect: a
   console must never fire late), and the socket's send buffer is emptied at every disconnect. A
   packet handed to a transport that then dies is dropped with it by engine.io-client. (Not
   socket.io's `volatile` flag: it also drops a packet whenever the transport is busy writing
   the previous one, which is most of the time right after a connect.) Answers carry a
   timeout, after which the caller is told `{code: "no_answer"}`. */
(function () {
  "use strict";
  var MIN_DELAY_MS = 250;
  var FIRST_CAP_MS = 1000;
  var MAX_DELAY_MS = 15000;
  var ANSWER_TIMEOUT_MS = 10000;

  function open(namespace, options, hooks) {
    hooks = hooks || {};
    var socket = io(namespace, Object.assign({ transports: ["websocket"], reconnection: false }, options || {}));
    var failures = 0, timer = null, windowMs = 0;

    function report(state, reason) { if (hooks.onState) hooks.onState(state, reason); }

    function delayMs() {
      if (windowMs > 0) {   /* the node said when: anywhere in its window */
        var w = windowMs; windowMs = 0;
        return MIN_DELAY_MS + Math.random() * w;
      }
      var cap = Math.min(MAX_DELAY_MS, FIRST_CAP_MS * Math.pow(2, failures));
      return MIN_DELAY_MS + Math.random() * Math.max(0, cap - MIN_DELAY_MS);
    }

    function schedule() {
      if (timer !== null) return;
      var wait = delayMs();
      failures += 1;
      timer = setTimeout(function () {
        timer = null;
        if (socket.connected) return;
        Promise.resolve(hooks.beforeConnect ? hooks.beforeConnect(failures) : null)
          .catch(function () { /* a failed refresh: the handshake will say so */ })
          .then(function () { if (!socket.connected) socket.connect(); });
      }, wait);
    }

    socket.on("connect", function () { failures = 0; report("live"); });
    socket.on("disconnect", function (reason) {
      socket.sendBuffer = [];   /* belt and braces: nothing sent while down goes out later */
      report("reconnecting", reason);
      schedule();
    });
    socket.on("connect_error", function (err) {
      report("reconnecting", err);
      if (hooks.onRefused && err && err.data && err.data.code) hooks.onRefused(err.data);
      schedule();
    });
    socket.on("drain", function (data) {
      windowMs = data && typeof data.within_ms === "number" ? Math.max(0, data.within_ms) : 0;
    });

    var RETRYABLE = ["busy", "store_unavailable", "starting"];
    var RETRY_FOR_MS = 15000;

    function send(event, payload, answer, timeoutMs) {
      answer = answer || function () {};
      if (!socket.connected) {
        answer({ ok: false, error: { code: "offline", message: "not connected to the server" } });
        return false;
      }
      socket.timeout(timeoutMs || ANSWER_TIMEOUT_MS).emit(event, payload, function (err, ack) {
        if (err || !ack) answer({ ok: false, error: { code: "no_answer", message: "no answer from the server" } });
        else answer(ack);
      });
      return true;
    }

    /* A tap: sent like `send`, and sent again with the same payload (so the same idempotency key)
       when the server answers with a retryable code (`busy`: too many taps at once;
       `store_unavailable`; `starting`: the node is settling what a restart left), after the `retry_after_ms` it names plus up to half again of jitter,
       until another answer, the link going down, or RETRY_FOR_MS. The server decides a key
       once, so a retry can never buy twice. */
    function sendRetrying(event, payload, answer, timeoutMs) {
      var until = Date.now() + RETRY_FOR_MS;
      function attempt() {
        send(event, payload, function (ack) {
          var error = ack && !ack.ok ? ack.error || {} : null;
          if (error && RETRYABLE.indexOf(error.code) >= 0 && Date.now() < until && socket.connected) {
            var wait = Math.max(50, error.retry_after_ms || 250);
            setTimeout(attempt, wait * (1 + Math.random() / 2));
            return;
          }
          answer(ack);
        }, timeoutMs);
      }
      attempt();
    }

    return {
      socket: socket,
      send: send,
      sendRetrying: sendRetrying,
      connected: function () { return socket.connected; },
    };
  }

  window.GalaLink = { open: open };
})();
