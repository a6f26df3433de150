/* The viewer's copy of the show log protocol (docs/protocol.md): the fold of public events into
   the screen state, mirroring gala/snapshot.py, and the rules for ordering, duplicates, gaps and
   epochs. No DOM here. */
(function (global) {
  "use strict";
  var LAYERS = ["product_card", "lower_third", "banner", "countdown", "fullscreen"];

  function emptyState(epoch) {
    var layers = {};
    LAYERS.forEach(function (l) { layers[l] = null; });
    return { epoch: epoch, seq: 0, show: { phase: "pre_show", started_at_ms: null, ended_at_ms: null }, layers: layers, sales: {}, drops: {} };
  }

  function clone(state) { return JSON.parse(JSON.stringify(state)); }

  function layerShowing(state, id) {
    for (var i = 0; i < LAYERS.length; i++) {
      var o = state.layers[LAYERS[i]];
      if (o && o.id === id) return LAYERS[i];
    }
    return null;
  }

  /* Apply one event to a state (returns a new state). */
  function fold(state, ev) {
    var s = clone(state), d = ev.data, layer;
    s.seq = ev.seq;
    switch (ev.type) {
      case "show.phase": s.show = { phase: d.phase, started_at_ms: d.started_at_ms, ended_at_ms: d.ended_at_ms }; break;
      case "overlay.shown": s.layers[d.layer] = d.overlay; break;
      case "overlay.updated":
        layer = layerShowing(s, d.id);
        if (layer) { for (var k in d.changes) s.layers[layer][k] = d.changes[k]; }
        break;
      case "overlay.hidden": layer = layerShowing(s, d.id); if (layer) s.layers[layer] = null; break;
      case "layer.cleared": s.layers[d.layer] = null; break;
      case "stage.cleared": LAYERS.forEach(function (l) { s.layers[l] = null; }); break;
      case "sale.opened": s.sales[d.product_id] = Object.assign({}, d, { status: "open" }); break;
      case "sale.closed": if (s.sales[d.product_id]) s.sales[d.product_id].status = "closed"; break;
      case "drop.announced": s.drops = s.drops || {}; s.drops[d.drop_id] = Object.assign({}, d); break;
      default: break; /* types of later features leave the screen as it is */
    }
    return s;
  }

  /* Sequencer: feeds events in seq order, ignores duplicates, asks to resume on a gap.
     onApply(event) runs for each event in order; onNeedResume() when a gap or an unknown epoch
     means the client must join again with its (epoch, seq). */
  function Sequencer(onApply, onNeedResume, onReset) {
    this.epoch = null; this.seq = 0; this.ready = false; this.buffer = [];
    this.onApply = onApply; this.onNeedResume = onNeedResume; this.onReset = onReset;
  }
  Sequencer.prototype.position = function () {
    return this.epoch === null ? null : { epoch: this.epoch, seq: this.seq };
  };
  Sequencer.prototype.joining = function () { this.ready = false; this.buffer = []; };
  Sequencer.prototype.joined = function (ack) {
    if (ack.mode === "snapshot") {
      this.epoch = ack.snapshot.epoch; this.seq = ack.snapshot.seq;
      this.onReset(ack.snapshot);
    } else {
      for (var i = 0; i < ack.events.length; i++) this._take(ack.events[i]);
    }
    this.ready = true;
    var buffered = this.buffer; this.buffer = [];
    for (var j = 0; j < buffered.length; j++) this.receive(buffered[j]);
  };
  Sequencer.prototype.receive = function (ev) {
    if (!this.ready) { this.buffer.push(ev); return; }
    this._take(ev);
  };
  Sequencer.prototype._take = function (ev) {
    if (ev.epoch !== this.epoch) {
      if (ev.seq === 1) { this.epoch = ev.epoch; this.seq = 0; this.onReset(emptyState(ev.epoch)); }
      else { this.ready = false; this.onNeedResume(); return; }
    }
    if (ev.seq <= this.seq) return;
    if (ev.seq !== this.seq + 1) { this.ready = false; this.onNeedResume(); return; }
    this.seq = ev.seq;
    this.onApply(ev);
  };

  global.GalaShowState = { LAYERS: LAYERS, emptyState: emptyState, fold: fold, Sequencer: Sequencer };
})(window);
