/* The sponsor portal: lists, creates and edits the sponsor's products (the show files' products
   of this sponsor among them), books reveals and lists bookings with their state, and shows the
   live results, all through the JSON API (/api/sponsor/...) with the page's token.
   The server decides everything; this page only shows its answers and its error messages.
   Amounts travel in integer minor units; this page shows them in the show's currency for the
   browser's locale (Intl.NumberFormat with the currency's exponent) and reads amounts typed in
   the currency's main unit. Of the run of show a sponsor sees cue ids and numbers, never labels. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("gala-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var shows = [], products = [], bookings = [], editing = null;
  var FALLBACK_SHOW = { currency: "CNY", currency_exponent: 2, locales: ["en"], default_locale: "en", timezone: "UTC", cues: [] };

  function api(method, path, body) {
    return fetch("/api/sponsor" + path, {
      method: method,
      headers: { "Authorization": "Bearer " + config.token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (resp) { return resp.json(); }).then(function (answer) {
      if (!answer.ok) { throw new Error(answer.error.message + " (" + answer.error.code + ")"); }
      return answer.data;
    });
  }
  function say(text, error) { var m = $("message"); m.textContent = text; m.className = "message" + (error ? " error" : ""); }
  function option(select, value, text) { var o = document.createElement("option"); o.value = value; o.textContent = text; select.appendChild(o); }
  function headers(table) {
    return Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent; });
  }
  /* A row of cells, each labelled with its column's header (the phone layout shows the label). */
  function row(table, values) {
    var tr = document.createElement("tr"), names = headers(table);
    values.forEach(function (value, i) {
      var td = document.createElement("td");
      td.dataset.label = names[i] || "";
      if (value instanceof Node) { td.appendChild(value); } else { td.textContent = String(value); }
      tr.appendChild(td);
    });
    table.querySelector("tbody").appendChild(tr);
    return tr;
  }

  /* --- shows, money, counts ---------------------------------------------------------------- */
  function showById(id) { return shows.filter(function (s) { return s.id === id; })[0]; }
  /* Products have no currency of their own: their amounts are in the currency of the sponsor's
     shows (the first one the portal lists). */
  function mainShow() { return shows[0] || FALLBACK_SHOW; }
  function money(minor, show) {
    show = show || mainShow();
    var exponent = show.currency_exponent;
    return new Intl.NumberFormat(undefined, {
      style: "currency", currency: show.currency,
      minimumFractionDigits: exponent, maximumFractionDigits: exponent
    }).format(minor / Math.pow(10, exponent));
  }
  function count(n) { return new Intl.NumberFormat().format(n); }
  /* An amount typed in the currency's main unit, in minor units (NaN if not a number). */
  function minorOf(text, show) {
    show = show || mainShow();
    if (text === "" || text === null) return NaN;
    return Math.round(Number(text) * Math.pow(10, show.currency_exponent));
  }
  function majorOf(minor, show) {
    show = show || mainShow();
    return (minor / Math.pow(10, show.currency_exponent)).toFixed(show.currency_exponent);
  }
  function showCurrency() {
    var show = mainShow();
    document.querySelectorAll(".currency-code").forEach(function (span) { span.textContent = show.currency; });
    var step = String(Math.pow(10, -show.currency_exponent));
    document.querySelectorAll('input[name="price"], input[name="flash_price"], input[name="drop_budget"]')
      .forEach(function (input) { input.step = show.currency_exponent ? step : "1"; });
  }
  function locales() {
    var all = {};
    shows.forEach(function (s) { s.locales.forEach(function (l) { all[l] = true; }); });
    var list = Object.keys(all);
    return list.length ? list : ["en"];
  }
  function defaultLocale() { return mainShow().default_locale; }
  function nameOf(texts, fallback) {
    texts = texts || {};
    return texts[defaultLocale()] || texts.en || Object.values(texts)[0] || fallback;
  }
  function cueText(show, cueId) {
    var cue = (show ? show.cues : []).filter(function (c) { return c.id === cueId; })[0];
    return cue ? "cue " + cue.number + " (id " + cue.id + ")" : "cue id " + cueId;
  }

  /* --- products ---------------------------------------------------------------------------- */
  function renderTexts(boxId, prefix, texts, required, multiline) {
    var box = $(boxId);
    box.querySelectorAll("label").forEach(function (l) { l.remove(); });
    locales().forEach(function (locale) {
      var label = document.createElement("label");
      label.textContent = locale + " ";
      var input = document.createElement(multiline ? "textarea" : "input");
      if (multiline) input.rows = 2;
      input.name = prefix + "-" + locale; input.dataset.locale = locale; input.required = required;
      input.lang = locale; input.dir = "auto";
      input.value = texts ? (texts[locale] || "") : "";
      label.appendChild(input); box.appendChild(label);
    });
  }
  function renderProductTexts(product) {
    renderTexts("names", "name", product && product.name, true, false);
    renderTexts("descriptions", "description", product && product.description, false, true);
  }
  function collect(boxId) {
    var texts = {};
    $(boxId).querySelectorAll("input, textarea").forEach(function (i) { if (i.value.trim()) texts[i.dataset.locale] = i.value; });
    return texts;
  }

  function renderProducts() {
    var table = $("products");
    table.querySelector("tbody").textContent = "";
    var select = $("booking-product"), chosen = select.value;
    select.textContent = "";
    products.forEach(function (p) {
      var edit = document.createElement("button");
      edit.type = "button"; edit.textContent = "Edit";
      edit.addEventListener("click", function () { startEdit(p); });
      var tr = row(table, [p.id, nameOf(p.name, p.id), money(p.price_minor), count(p.stock), count(p.per_viewer_limit), edit]);
      tr.dataset.id = p.id;
      option(select, p.id, nameOf(p.name, p.id) + " (" + p.id + ", " + money(p.price_minor) + ")");
    });
    if (chosen && products.some(function (p) { return p.id === chosen; })) select.value = chosen;
  }

  function startEdit(product) {
    editing = product;
    var form = $("product-form");
    $("product-form-title").textContent = "Edit " + product.id;
    form.elements.id.value = product.id; form.elements.id.readOnly = true;
    form.elements.image_url.value = product.image_url;
    form.elements.price.value = majorOf(product.price_minor);
    form.elements.stock.value = product.stock;
    form.elements.per_viewer_limit.value = product.per_viewer_limit;
    renderProductTexts(product);
  }

  $("product-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var f = event.target.elements;
    var body = {
      name: collect("names"), description: collect("descriptions"), image_url: f.image_url.value,
      price_minor: minorOf(f.price.value), stock: Number(f.stock.value),
      per_viewer_limit: Number(f.per_viewer_limit.value || 1)
    };
    var call = editing ? api("PATCH", "/products/" + editing.id, body)
                       : api("POST", "/products", Object.assign({ id: f.id.value }, body));
    call.then(function (p) {
      say("Saved " + p.id); resetProductForm();
      return refresh().then(function () { $("booking-product").value = p.id; });
    }).catch(function (e) { say(e.message, true); });
  });
  function resetProductForm() {
    editing = null; $("product-form").reset(); $("product-form").elements.id.readOnly = false;
    $("product-form-title").textContent = "New product"; renderProductTexts(null);
  }
  $("product-new").addEventListener("click", function (event) { event.preventDefault(); resetProductForm(); });

  /* --- bookings ---------------------------------------------------------------------------- */
  function renderCues() {
    var show = showById($("booking-show").value);
    var select = $("booking-cue");
    select.textContent = "";
    (show ? show.cues : []).forEach(function (c) { option(select, c.id, "Cue " + c.number + " · id " + c.id); });
  }
  function showSlotKind() {
    var atTime = $("slot-kind").value === "at";
    $("cue-field").hidden = atTime; $("at-field").hidden = !atTime;
    $("booking-form").elements.at.required = atTime;
  }
  $("slot-kind").addEventListener("change", showSlotKind);
  $("booking-show").addEventListener("change", renderCues);

  function productName(productId) {
    var product = products.filter(function (p) { return p.id === productId; })[0];
    return product ? nameOf(product.name, productId) : productId;
  }
  function slotText(b) {
    return b.slot.after_cue ? "after " + cueText(showById(b.show_id), b.slot.after_cue) : "at " + b.slot.at;
  }
  function renderBookings(list) {
    bookings = list;
    var table = $("bookings");
    table.querySelector("tbody").textContent = "";
    list.forEach(function (b) {
      var show = showById(b.show_id);
      var slot = slotText(b);
      var sale = Math.round(b.sale_duration_ms / 1000) + " s" +
        (b.flash_price_minor ? ", flash price " + money(b.flash_price_minor, show) : "");
      var drop = b.drop ? count(b.drop.envelopes) + " envelopes, " + money(b.drop.budget_minor, show) : "—";
      var actions = document.createElement("span");
      if (b.state === "pending") {
        var withdraw = document.createElement("button");
        withdraw.type = "button"; withdraw.textContent = "Withdraw";
        withdraw.addEventListener("click", function () {
          api("POST", "/bookings/" + b.id + "/withdraw").then(refresh).catch(function (e) { say(e.message, true); });
        });
        actions.appendChild(withdraw);
      }
      var tr = row(table, [show ? show.title : b.show_id,
                           productName(b.product_id) + " (" + b.product_id + ")",
                           slot, sale, drop, b.state + (b.reason ? ": " + b.reason : ""), actions]);
      tr.dataset.id = b.id;
      tr.children[5].className = "state-" + b.state;
    });
  }

  function renderBudget(budget) {
    $("budget").textContent = money(budget.available_minor) + " available of " + money(budget.balance_minor);
  }
  function refresh() {
    return Promise.all([api("GET", "/products"), api("GET", "/bookings"), api("GET", "/budget")])
      .then(function (got) { products = got[0]; renderProducts(); renderBookings(got[1]); renderBudget(got[2]); });
  }
  /* Producers approve or reject meanwhile: the bookings and the budget are polled every 5 s. */
  function refreshBookings() {
    return Promise.all([api("GET", "/bookings"), api("GET", "/budget")])
      .then(function (got) { renderBookings(got[0]); renderBudget(got[1]); })
      .catch(function () { /* the next poll tries again */ });
  }
  setInterval(refreshBookings, 5000);

  $("booking-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var f = event.target.elements, show = showById(f.show_id.value);
    var body = {
      show_id: f.show_id.value, product_id: f.product_id.value,
      slot: f.slot_kind.value === "at" ? { at: f.at.value } : { after_cue: f.after_cue.value },
      sale_duration_ms: Number(f.sale_s.value) * 1000
    };
    if (f.flash_price.value) body.flash_price_minor = minorOf(f.flash_price.value, show);
    if (f.drop_budget.value) body.drop = { budget_minor: minorOf(f.drop_budget.value, show), envelopes: Number(f.drop_envelopes.value) };
    api("POST", "/bookings", body).then(function (b) {
      say("Booked " + productName(b.product_id) + " " + slotText(b) + ": waiting for a producer's approval");
      return refresh();
    })
      .catch(function (e) { say(e.message, true); });
  });

  /* --- results: the sponsor's own reveals and drops of the chosen show, polled every 2 s ------ */
  function timeOf(ms, show) {
    return new Intl.DateTimeFormat(undefined, {
      timeZone: show.timezone, hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).format(new Date(ms));
  }
  function renderResults(results, show) {
    var reveals = $("results-reveals");
    reveals.querySelector("tbody").replaceChildren();
    results.reveals.forEach(function (r) {
      var cue = r.cue_number !== null && r.cue_number !== undefined ? "Cue " + r.cue_number : "Cue ?";
      row(reveals, [
        cue + " · " + timeOf(r.at_ms, show),
        nameOf(r.name, r.product_id),
        r.viewers_online === null ? "–" : count(r.viewers_online),
        count(r.displayed), count(r.taps), count(r.orders), count(r.units), money(r.gmv_minor, show),
        r.conversion === null ? "–" : new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 }).format(r.conversion)
      ]).dataset.seq = r.seq;
    });
    var drops = $("results-drops");
    drops.querySelector("tbody").replaceChildren();
    results.drops.forEach(function (d) {
      /* a booked drop is named after its booking (b-BOOKING): name it by the booked product */
      var booked = bookings.filter(function (b) { return d.name === ("b-" + b.id).slice(0, 64); })[0];
      var name = booked ? "With " + productName(booked.product_id) + ", " + slotText(booked) : d.name;
      row(drops, [name, d.status, count(d.grabbed) + " / " + count(d.envelopes),
                  money(d.given_minor, show), money(d.refunded_minor, show)]);
    });
  }
  function pollResults() {
    var show = showById($("results-show").value);
    if (!show) return;
    $("results-csv").href = "/api/sponsor/shows/" + show.id + "/results.csv";
    api("GET", "/shows/" + show.id + "/results").then(function (r) { renderResults(r, show); })
      .catch(function () { /* the next poll tries again */ });
  }
  $("results-show").addEventListener("change", pollResults);
  $("results-csv").addEventListener("click", function (event) {
    /* the CSV needs the page's token, so it is fetched and saved from here */
    event.preventDefault();
    fetch($("results-csv").href, { headers: { "Authorization": "Bearer " + config.token } })
      .then(function (resp) { return resp.blob(); })
      .then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob); a.download = "results.csv"; a.click();
      });
  });
  setInterval(pollResults, 2000);

  showSlotKind();
  api("GET", "/me").then(function (me) {
    shows = me.shows;
    shows.forEach(function (s) { option($("booking-show"), s.id, s.title); option($("results-show"), s.id, s.title); });
    showCurrency();
    pollResults();
    renderCues(); renderProductTexts(null);
    return refresh();
  }).catch(function (e) { say(e.message, true); });
})();
