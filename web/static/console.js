/* The stage console: cue list, standby, GO (button and space bar, guarded against a double
   press), jump (click a cue, or Enter on a focused one), back (↑) and next (↓), panic, end,
   reset; live phase, clocks, the running cue's elapsed time and who fired it, the pending timer,
   viewers, operators, the audit log (who did what) and an optional phone preview.
   Every button is a command on the /producer namespace; the server decides and pushes the state
   to every console, so two consoles always show the same thing. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("gala-config").textContent);
  var show = config.show;
  var GO_GUARD_MS = 700;
  var cues = [], stage = null, clockOffsetMs = 0, bestRttMs = Infinity, goLockedUntil = 0;
  var audit = [], lastSeen = { cueId: null, atMs: 0 };
  var $ = function (id) { return document.getElementById(id); };

  /* The link reconnects by itself (web/static/link.js); every command goes through link.send,
     which refuses at once while the link is down: nothing is queued to fire late. */
  var link = GalaLink.open("/producer", { auth: { token: config.token } }, {
    onState: function (state) {
      setConn(state);
      if (state !== "live") return;
      syncClock(5);
      link.send("console:join", { show_id: show.id }, function (ack) {
        if (!ack.ok) return say(ack.error.message, true);
        cues = ack.data.cues;
        renderCues();
        applyState(ack.data);
        loadDropNames();
        applyPresence(ack.data.presence);
        say("");
      });
      loadBookings();
    },
    onRefused: function (error) { say("Not allowed: " + error.message + " (log in again)", true); }
  });
  var socket = link.socket;
  socket.on("console:state", applyState);
  socket.on("console:presence", applyPresence);
  socket.on("console:figures", applyFigures);

  var money = new Intl.NumberFormat(undefined, { style: "currency", currency: show.currency });
  function formatMoney(minor) { return money.format(minor / Math.pow(10, show.currency_exponent)); }
  /* A localized name by the show's default locale, then English, then any; else the id. */
  function localName(names, fallback) {
    if (!names || typeof names !== "object") return fallback;
    return names[show.default_locale] || names.en || Object.values(names)[0] || fallback;
  }
  function productName(pid, names) { return localName(names, pid); }
  function applyFigures(f) {
    applyDropFigures(f.drops || {});
    $("gmv").textContent = money.format(f.gmv_minor / Math.pow(10, show.currency_exponent));
    /* the show's taps per second, summed over nodes by the server (the taps /metrics counts) */
    $("orders-rate").textContent = f.orders_per_s.toFixed(1);
    $("grabs-rate").textContent = f.grabs_per_s.toFixed(1);
    var body = document.querySelector("#stock tbody");
    body.replaceChildren();
    Object.keys(f.products).sort().forEach(function (pid) {
      var p = f.products[pid], tr = document.createElement("tr");
      tr.dataset.productId = pid;
      tr.title = pid;
      [productName(pid, p.name), p.left, p.held, p.sold].forEach(function (v, i) {
        var td = document.createElement("td"); td.textContent = String(v);
        td.className = i === 0 ? "product-name" : "num"; tr.append(td);
      });
      if (p.sold_out) tr.className = "sold-out";
      body.append(tr);
    });
  }

  /* Sponsor bookings: the show's bookings, pending ones with Approve and Reject (a reason is
     asked for); the server decides and audits each decision. */
  function loadBookings() {
    link.send("bookings:list", { show_id: show.id }, function (ack) {
      if (!ack.ok) return sayBookings(ack.error.message, true);
      renderBookings(ack.data.bookings);
    });
  }
  function sayBookings(text, isError) {
    var m = $("bookings-message"); m.textContent = text; m.className = "message" + (isError ? " error" : "");
  }
  function decideBooking(event, payload) {
    link.send(event, Object.assign({ show_id: show.id }, payload), function (ack) {
      if (!ack.ok) return sayBookings(refusalText(ack.error), true);
      sayBookings(ack.data.booking.id + " " + ack.data.booking.state);
      loadBookings();
    });
  }
  function renderBookings(list) {
    var body = document.querySelector("#bookings tbody");
    body.replaceChildren();
    list.forEach(function (b) {
      var tr = document.createElement("tr");
      tr.dataset.bookingId = b.id;
      tr.dataset.state = b.state;
      var name = b.product ? (b.product.name[show.default_locale] || b.product_id) : b.product_id;
      var slot = b.slot.after_cue ? "after " + cueName(b.slot.after_cue) : "at " + b.slot.at;
      if (b.drop) slot += " + drop " + formatMoney(b.drop.budget_minor);
      [b.sponsor_id, name, slot, b.state + (b.reason ? ": " + b.reason : "")].forEach(function (v) {
        var td = document.createElement("td"); td.textContent = v; tr.append(td);
      });
      tr.children[3].className = "booking-state";
      var actions = document.createElement("td");
      actions.className = "booking-actions";
      if (b.state === "pending") {
        var approve = document.createElement("button");
        approve.type = "button"; approve.textContent = "Approve"; approve.className = "booking-approve";
        approve.addEventListener("click", function () { decideBooking("booking:approve", { booking_id: b.id }); });
        var reject = document.createElement("button");
        reject.type = "button"; reject.textContent = "Reject"; reject.className = "booking-reject";
        reject.addEventListener("click", function () {
          var reason = window.prompt("Why is this reveal rejected? (the sponsor sees this)");
          if (reason) decideBooking("booking:reject", { booking_id: b.id, reason: reason });
        });
        actions.append(approve, reject);
      }
      tr.append(actions);
      body.append(tr);
    });
  }
  $("bookings-refresh").addEventListener("click", loadBookings);
  /* new bookings come in over HTTP on any node: look again every 5 s while connected */
  setInterval(function () { if (link.connected()) loadBookings(); }, 5000);

  /* Red envelopes: launch a drop (a new key per press), and each drop's live figures. A closed
     drop is reported once more and then left out of the figures: its last row stays. */
  var drops = {}, dropOrder = [], dropNames = {}, launching = false;
  function applyDropFigures(incoming) {
    var ids = Object.keys(incoming);
    if (!ids.length) return;
    var unnamed = false;
    ids.forEach(function (id) {
      if (!drops[id]) dropOrder.unshift(id);
      drops[id] = incoming[id];
      if (incoming[id].name) dropNames[id] = incoming[id].name;
      if (!dropNames[id]) unnamed = true;
    });
    renderDrops();
    if (unnamed) loadDropNames();
  }

  /* A drop's name is on the show log (drop.announced), so every console reads it from the
     public snapshot, not only the console that launched it. One request at a time. */
  var namesLoading = false;
  function loadDropNames() {
    if (namesLoading || !window.fetch) return;
    namesLoading = true;
    fetch("/api/shows/" + encodeURIComponent(show.id) + "/snapshot", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        var known = body && body.ok && body.data && body.data.drops;
        if (!known) return;
        Object.keys(known).forEach(function (id) { if (known[id] && known[id].name) dropNames[id] = known[id].name; });
        renderDrops();
      })
      .catch(function () { /* names stay as ids until the next figures */ })
      .then(function () { namesLoading = false; });
  }

  function renderDrops() {
    var body = document.querySelector("#drops tbody");
    body.replaceChildren();
    dropOrder.forEach(function (id) {
      var d = drops[id], tr = document.createElement("tr");
      tr.dataset.dropId = id;
      tr.dataset.status = d.status;
      tr.title = id;
      [dropNames[id] || id.slice(0, 10), d.status, d.left + " / " + d.envelopes, formatMoney(d.given_minor),
        formatMoney(d.money_left_minor), d.grabs_per_s.toFixed(1)].forEach(function (v, i) {
        var td = document.createElement("td"); td.textContent = String(v);
        td.className = ["drop-name", "drop-status", "drop-left", "drop-given", "drop-money-left", "drop-rate"][i];
        tr.append(td);
      });
      body.append(tr);
    });
  }

  function toMinor(value) {
    var n = Number(value);
    return Number.isFinite(n) ? Math.round(n * Math.pow(10, show.currency_exponent)) : NaN;
  }
  function seconds(value) { var n = Number(value); return Number.isFinite(n) ? Math.round(n * 1000) : NaN; }
  function launchKey() {
    var random = window.crypto && crypto.randomUUID ? crypto.randomUUID().replace(/-/g, "") : Math.random().toString(16).slice(2) + Date.now().toString(16);
    return "launch-" + random.slice(0, 24);
  }
  function dropSay(message, isError) {
    var el = $("drop-message");
    el.textContent = message;
    el.className = "message" + (isError ? " error" : "");
  }

  function launchDrop(e) {
    e.preventDefault();
    if (launching) return;
    var payload = {
      show_id: show.id, key: launchKey(),
      budget_minor: toMinor($("drop-budget").value), envelopes: Number($("drop-envelopes").value),
      min_minor: toMinor($("drop-min").value), countdown_ms: seconds($("drop-countdown").value),
      duration_ms: seconds($("drop-duration").value), funder: $("drop-funder").value.trim() || "show"
    };
    var name = $("drop-name").value.trim();
    if (name) payload.name = name;
    launching = true;
    $("drop-launch").disabled = true;
    dropSay("launching…", false);
    link.send("drop:launch", payload, function (ack) {
      launching = false;
      $("drop-launch").disabled = false;
      if (!ack.ok && ack.error.code === "no_answer") { dropSay("no answer from the server (launch again to retry: a new drop)", true); return; }
      if (!ack.ok) { dropSay(refusalText(ack.error), true); return; }
      var d = ack.data.drop;
      dropNames[d.drop_id] = d.name;
      if (!drops[d.drop_id]) {
        dropOrder.unshift(d.drop_id);
        drops[d.drop_id] = { status: "pending", envelopes: d.envelopes, left: d.envelopes, given_minor: 0, money_left_minor: d.budget_minor, grabs_per_s: 0 };
      }
      renderDrops();
      var opens = new Date(d.opens_at_ms).toLocaleTimeString([], { hour12: false, timeZone: show.timezone });
      dropSay("launched " + d.name + " (" + d.drop_id + "): " + d.envelopes + " envelopes, " + formatMoney(d.budget_minor) +
        ", opens " + opens + " for " + Math.round((d.closes_at_ms - d.opens_at_ms) / 1000) + " s", false);
    });
  }

  function setConn(state) {
    var el = $("conn"); el.dataset.state = state; el.textContent = state === "live" ? "live" : "reconnecting…";
    document.body.dataset.link = state === "live" ? "up" : "down";
    if (state !== "live") say("Link down: reconnecting… Commands are refused until it is back.", true);
  }

  /* What a refusal says on screen: the link's own refusals in words, the server's with its code. */
  function refusalText(error) {
    if (error.code === "offline") return "Not sent: the link is down (reconnecting…). Nothing will fire later.";
    if (error.code === "no_answer") return "No answer from the server: check the state before pressing again.";
    return "refused: " + error.code + ": " + error.message;
  }

  function say(message, isError) {
    var el = $("message");
    el.textContent = message || "";
    el.className = "message" + (isError ? " error" : "");
  }

  function syncClock(samples) {
    var t0 = Date.now();
    socket.emit("time", { t0: t0 }, function (ack) {
      var t3 = Date.now();
      if (ack && ack.ok && t3 - t0 < bestRttMs) { bestRttMs = t3 - t0; clockOffsetMs = ack.data.server_ms - (t0 + t3) / 2; }
      if (samples > 1) setTimeout(function () { syncClock(samples - 1); }, 200);
    });
  }
  function serverNow() { return Date.now() + clockOffsetMs; }

  function command(name, extra, then) {
    var payload = Object.assign({ show_id: show.id }, extra || {});
    link.send(name, payload, function (ack) {
      if (!ack.ok) { say(refusalText(ack.error), true); return; }
      say("");
      if (then) then(ack.data);
    });
  }

  function go() {
    var now = Date.now();
    if (now < goLockedUntil || !stage) return;   /* double-press guard */
    goLockedUntil = now + GO_GUARD_MS;
    $("go").disabled = true;
    setTimeout(function () { $("go").disabled = false; }, GO_GUARD_MS);
    command("go", { standby_cue_id: stage.standby_cue_id });
  }

  function renderAuto() {
    var armed = !!stage && stage.timers.some(function (t) { return t.reason === "time_of_day"; });
    $("auto").setAttribute("aria-pressed", armed ? "true" : "false");
    $("auto").textContent = armed ? "Auto: armed" : "Auto: off";
  }
  function applyState(data) {
    if (data.cues && JSON.stringify(data.cues) !== JSON.stringify(cues)) {
      cues = data.cues;   /* the run of show changed: an approved reveal booking joined it */
      renderCues();
    }
    stage = data.stage;
    if (stage.last_cue_id !== lastSeen.cueId) lastSeen = { cueId: stage.last_cue_id, atMs: serverNow() };
    $("phase").textContent = stage.phase.replace("_", "-");
    $("phase").dataset.phase = stage.phase;
    var standby = cueById(stage.standby_cue_id);
    $("standby").textContent = standby ? standby.number + "  " + standby.label : "end of cue list";
    $("standby").dataset.cueId = stage.standby_cue_id || "";
    var follow = standby && stage.timers.find(function (t) { return t.cue_id === standby.id && t.reason === "auto_follow"; });
    $("standby-note").textContent = follow ? "auto-follow pending: GO fires it now" : "";
    $("go").title = follow ? "GO (space bar): fires " + standby.number + " now, ahead of its auto-follow" : "GO (space bar)";
    document.querySelectorAll("#cues tbody tr").forEach(function (row) {
      var id = row.dataset.cueId;
      row.classList.toggle("standby", id === stage.standby_cue_id);
      row.classList.toggle("last", id === stage.last_cue_id);
      var timer = stage.timers.find(function (t) { return t.cue_id === id; });
      row.classList.toggle("waiting", !!timer);
      row.dataset.dueMs = timer ? timer.due_ms : "";
    });
    var row = document.querySelector("#cues tr.standby");
    if (row && row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
    if (data.audit) { audit = data.audit; renderAudit(audit); }
    renderLast();
    renderAuto();
    clock();
  }

  function cueById(id) { return id ? cues.find(function (c) { return c.id === id; }) : undefined; }
  function cueName(id) { var c = cueById(id); return c ? c.number + " " + c.label : id; }

  /* Who fired the last cue, and when: the newest audit entry that executed it (a GO, a timer,
     the clock), else the moment this console saw it. */
  function lastFired() {
    if (!stage || !stage.last_cue_id) return null;
    for (var i = audit.length - 1; i >= 0; i--) {
      var e = audit[i];
      if (e.detail && e.detail.executed && e.detail.executed.indexOf(stage.last_cue_id) >= 0) return { actor: e.actor, atMs: e.at_ms };
    }
    return { actor: "", atMs: lastSeen.atMs };
  }
  function renderLast() {
    var last = cueById(stage && stage.last_cue_id), fired = lastFired();
    $("running-cue").textContent = last ? last.number + "  " + last.label : "—";
    var by = !fired || !fired.actor ? "" : fired.actor === "timer" ? "fired by its timer" : "GO by " + fired.actor;
    $("running-by").textContent = by;
    $("running").dataset.cueId = last ? last.id : "";
    document.querySelectorAll("#cues .fired-by").forEach(function (el) { el.remove(); });
    var row = last && document.querySelector('#cues tr[data-cue-id="' + last.id + '"]');
    if (row && by) {
      var tag = document.createElement("span");
      tag.className = "fired-by"; tag.textContent = by;
      row.children[1].append(tag);
    }
  }

  function applyPresence(p) {
    if (!p) return;
    $("viewers").textContent = String(p.viewers_online);
    var list = $("operators");
    list.replaceChildren();
    if (!p.operators.length) { list.textContent = "—"; return; }
    p.operators.forEach(function (name, i) {
      var span = document.createElement("span");
      span.className = "operator" + (name === config.user ? " me" : "");
      span.textContent = name + (name === config.user ? " (you)" : "");
      if (i) list.append(", ");
      list.append(span);
    });
  }

  function renderCues() {
    var body = document.querySelector("#cues tbody");
    body.replaceChildren();
    cues.forEach(function (c) {
      var tr = document.createElement("tr");
      tr.dataset.cueId = c.id;
      tr.tabIndex = 0;
      tr.title = "Click or Enter: put on standby";
      var timing = [];
      if (c.pre_wait_ms) timing.push("pre-wait " + c.pre_wait_ms / 1000 + " s");
      if (c.auto_follow_ms !== null) timing.push("auto-follow " + c.auto_follow_ms / 1000 + " s");
      [c.number, c.label, c.does.join("; "), c.notes, timing.join(", ")].forEach(function (v) {
        var td = document.createElement("td"); td.textContent = v; tr.append(td);
      });
      tr.addEventListener("click", function () { command("standby", { cue_id: c.id }); });
      tr.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { e.preventDefault(); e.stopPropagation(); command("standby", { cue_id: c.id }); }
      });
      body.append(tr);
    });
  }

  function renderAudit(entries) {
    var list = $("audit");
    list.replaceChildren();
    entries.slice().reverse().forEach(function (e) {
      var li = document.createElement("li");
      var when = document.createElement("span"), who = document.createElement("span"), what = document.createElement("span");
      when.className = "when"; who.className = "actor"; what.className = "what";
      when.textContent = new Date(e.at_ms).toLocaleTimeString([], { hour12: false, timeZone: show.timezone });
      who.textContent = e.actor;
      var executed = e.detail.executed || [];
      what.textContent = e.action + (e.detail.cue_id ? " " + e.detail.cue_id : "") +
        (executed.length ? " → " + executed.map(function (id) { var c = cueById(id); return c ? id + " (" + c.number + ")" : id; }).join(", ") : "") +
        (e.detail.refused ? " (refused: " + e.detail.refused + ")" : "");
      if (e.detail.refused) li.className = "refused";
      li.dataset.actor = e.actor;
      li.append(when, " ", who, " ", what);
      list.append(li);
    });
  }

  function pad(n) { return String(n).padStart(2, "0"); }
  function elapsed(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    return (s >= 3600 ? pad(Math.floor(s / 3600)) + ":" : "") + pad(Math.floor(s % 3600 / 60)) + ":" + pad(s % 60);
  }
  function clock() {
    var now = serverNow();
    $("time-of-day").textContent = new Date(now).toLocaleTimeString([], { hour12: false, timeZone: show.timezone });
    if (stage && stage.started_at_ms) {
      var end = stage.ended_at_ms || now, s = Math.max(0, Math.floor((end - stage.started_at_ms) / 1000));
      $("show-clock").textContent = pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s % 3600 / 60)) + ":" + pad(s % 60);
    } else { $("show-clock").textContent = "--:--:--"; }
    var fired = lastFired();
    $("running-elapsed").textContent = fired && stage.phase === "live" ? elapsed(now - fired.atMs) : "";
    var next = stage ? stage.timers.slice().sort(function (a, b) { return a.due_ms - b.due_ms; })[0] : null;
    $("pending").hidden = !next;
    if (next) {
      $("pending-cue").textContent = cueName(next.cue_id);
      $("pending-why").textContent = next.reason.replace(/_/g, "-");
      var leftMs = Math.max(0, next.due_ms - now);
      $("pending-left").textContent = "in " + (leftMs < 60000 ? (leftMs / 1000).toFixed(1) + " s" : elapsed(leftMs));
      $("pending").dataset.cueId = next.cue_id;
    }
    document.querySelectorAll("#cues tr.waiting").forEach(function (row) {
      var left = Math.max(0, (Number(row.dataset.dueMs) - now) / 1000);
      row.lastChild.dataset.countdown = left.toFixed(1) + " s";
    });
  }

  /* Edits of the run of show: the server validates them like a show file and pushes the new cue
     list to every console (console:state). */
  $("edit-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var kind = $("edit-kind").value, payload = { kind: kind };
    if (kind !== "add") payload.cue_id = $("edit-cue").value;
    if (kind === "add" || kind === "move") payload.after_cue = $("edit-after").value || null;
    if (kind === "add" || kind === "edit") {
      try { payload.cue = JSON.parse($("edit-table").value); }
      catch (err) { $("edit-message").textContent = "the cue is not valid JSON"; return; }
    }
    link.send("cue:edit", Object.assign({ show_id: show.id }, payload), function (ack) {
      $("edit-message").textContent = ack.ok ? kind + ": done" : refusalText(ack.error);
      $("edit-message").className = "message" + (ack.ok ? "" : " error");
      if (ack.ok) { cues = ack.data.cues; renderCues(); if (stage) applyState({ stage: stage }); }
    });
  });
  $("go").addEventListener("click", go);
  $("drop-form").addEventListener("submit", launchDrop);
  $("back").addEventListener("click", function () { command("back"); });
  $("panic").addEventListener("click", function () { command("panic"); });
  $("auto").addEventListener("click", function () {
    command("auto", { armed: $("auto").getAttribute("aria-pressed") !== "true" });
  });
  $("end").addEventListener("click", function () { if (confirm("End the show?")) command("end"); });
  $("reset").addEventListener("click", function () { if (confirm("Reset the show to pre-show with a fresh log?")) command("reset"); });
  /* ↓ puts the cue after the standby on standby (a jump, like a click); ↑ is Back. */
  function standbyNext() {
    if (!stage || !stage.standby_cue_id) { say("refused: end of the cue list", true); return; }
    var i = cues.findIndex(function (c) { return c.id === stage.standby_cue_id; });
    if (i < 0 || i + 1 >= cues.length) { say("refused: the last cue is already on standby", true); return; }
    command("standby", { cue_id: cues[i + 1].id });
  }
  document.addEventListener("keydown", function (e) {
    if (e.target && (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA" || e.target.tagName === "SELECT")) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.code === "Space") { e.preventDefault(); if (!e.repeat) go(); }
    else if (e.code === "Escape") { command("panic"); }
    else if (e.code === "ArrowUp") { e.preventDefault(); command("back"); }
    else if (e.code === "ArrowDown") { e.preventDefault(); standbyNext(); }
  });

  /* The phone preview: the viewer page itself, in the show's default language, scaled down. It
     is a viewer like any other (it counts in "viewers online"), so it is off until asked for. */
  function setPreview(on) {
    var box = $("preview"), frame = $("preview-frame");
    box.hidden = !on;
    $("preview-toggle").setAttribute("aria-pressed", on ? "true" : "false");
    if (on && !frame.getAttribute("src")) frame.setAttribute("src", "/watch/" + encodeURIComponent(show.id) + "?lang=" + encodeURIComponent(show.default_locale));
    if (!on) frame.removeAttribute("src");
    try { localStorage.setItem("gala-console-preview", on ? "1" : "0"); } catch (err) { /* private mode */ }
  }
  $("preview-toggle").addEventListener("click", function () { setPreview($("preview").hidden); });
  try { if (localStorage.getItem("gala-console-preview") === "1") setPreview(true); } catch (err) { /* private mode */ }
  /* The stage column fills the viewport below the header and controls (which wrap on narrow
     screens), so the audit log at its foot is on screen without scrolling. */
  function layout() {
    var panes = document.querySelector(".panes");
    document.documentElement.style.setProperty("--top-h", Math.ceil(panes.getBoundingClientRect().top + window.scrollY) + "px");
  }
  if (window.ResizeObserver) {
    var watch = new ResizeObserver(layout);
    watch.observe(document.querySelector(".top"));
    watch.observe(document.querySelector(".controls"));
  }
  window.addEventListener("resize", layout);
  layout();
  setInterval(clock, 250);
  setInterval(function () { if (link.connected()) syncClock(1); }, 30000);
  window.galaConsole = { state: function () { return stage; } };
})();
