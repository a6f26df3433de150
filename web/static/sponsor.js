/* The sponsor portal: lists, creates and edits the sponsor's products, books reveals and lists
   bookings with their state, all through the JSON API (/api/sponsor/...) with the page's token.
   The server decides everything; this page only shows its answers and its error messages. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("gala-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var shows = [], products = [], editing = null;

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
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
  function locales() {
    var all = {};
    shows.forEach(function (s) { s.locales.forEach(function (l) { all[l] = true; }); });
    var list = Object.keys(all);
    return list.length ? list : ["en"];
  }
  function defaultLocale() { return shows.length ? shows[0].default_locale : "en"; }
  function option(select, value, text) { var o = document.createElement("option"); o.value = value; o.textContent = text; select.appendChild(o); }

  function renderNames(product) {
    var box = $("names");
    box.querySelectorAll("label").forEach(function (l) { l.remove(); });
    locales().forEach(function (locale) {
      var label = document.createElement("label");
      label.textContent = locale + " ";
      var input = document.createElement("input");
      input.name = "name-" + locale; input.dataset.locale = locale; input.required = true;
      input.value = product ? (product.name[locale] || "") : "";
      label.appendChild(input); box.appendChild(label);
    });
  }

  function renderProducts() {
    var body = $("products").querySelector("tbody");
    body.textContent = "";
    var select = $("booking-product");
    select.textContent = "";
    products.forEach(function (p) {
      var row = document.createElement("tr");
      row.dataset.id = p.id;
      cell(row, p.id); cell(row, p.name[defaultLocale()] || Object.values(p.name)[0]);
      cell(row, String(p.price_minor)); cell(row, String(p.stock));
      var edit = document.createElement("button");
      edit.type = "button"; edit.textContent = "Edit";
      edit.addEventListener("click", function () { startEdit(p); });
      cell(row, "").appendChild(edit);
      body.appendChild(row);
      option(select, p.id, p.id);
    });
  }

  function startEdit(product) {
    editing = product;
    var form = $("product-form");
    $("product-form-title").textContent = "Edit " + product.id;
    form.elements.id.value = product.id; form.elements.id.readOnly = true;
    form.elements.description.value = product.description[defaultLocale()] || "";
    form.elements.image_url.value = product.image_url;
    form.elements.price_minor.value = product.price_minor;
    form.elements.stock.value = product.stock;
    form.elements.per_viewer_limit.value = product.per_viewer_limit;
    renderNames(product);
  }

  function renderCues() {
    var show = shows.filter(function (s) { return s.id === $("booking-show").value; })[0];
    var select = $("booking-cue");
    select.textContent = "";
    (show ? show.cues : []).forEach(function (c) { option(select, c.id, c.number + " (" + c.id + ")"); });
  }

  function renderBookings(bookings) {
    var body = $("bookings").querySelector("tbody");
    body.textContent = "";
    bookings.forEach(function (b) {
      var row = document.createElement("tr");
      row.dataset.id = b.id;
      cell(row, b.show_id); cell(row, b.product_id);
      cell(row, b.slot.after_cue ? "after cue " + b.slot.after_cue : "at " + b.slot.at);
      cell(row, b.drop ? b.drop.envelopes + " × " + b.drop.budget_minor : "—");
      var state = cell(row, b.state + (b.reason ? ": " + b.reason : ""));
      state.className = "state-" + b.state;
      var actions = cell(row, "");
      if (b.state === "pending") {
        var withdraw = document.createElement("button");
        withdraw.type = "button"; withdraw.textContent = "Withdraw";
        withdraw.addEventListener("click", function () {
          api("POST", "/bookings/" + b.id + "/withdraw").then(refresh).catch(function (e) { say(e.message, true); });
        });
        actions.appendChild(withdraw);
      }
      body.appendChild(row);
    });
  }

  function refresh() {
    return Promise.all([api("GET", "/products"), api("GET", "/bookings"), api("GET", "/budget")])
      .then(function (got) {
        products = got[0]; renderProducts(); renderBookings(got[1]);
        $("budget").textContent = got[2].available_minor + " available of " + got[2].balance_minor;
      });
  }

  $("product-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var f = event.target.elements, name = {}, description = {};
    $("names").querySelectorAll("input").forEach(function (i) { if (i.value) name[i.dataset.locale] = i.value; });
    if (f.description.value) description[defaultLocale()] = f.description.value;
    var body = {
      name: name, description: description, image_url: f.image_url.value,
      price_minor: Number(f.price_minor.value), stock: Number(f.stock.value),
      per_viewer_limit: Number(f.per_viewer_limit.value || 1)
    };
    var call = editing ? api("PATCH", "/products/" + editing.id, body)
                       : api("POST", "/products", Object.assign({ id: f.id.value }, body));
    call.then(function (p) { say("Saved " + p.id); resetProductForm(); return refresh(); })
        .catch(function (e) { say(e.message, true); });
  });
  function resetProductForm() {
    editing = null; $("product-form").reset(); $("product-form").elements.id.readOnly = false;
    $("product-form-title").textContent = "New product"; renderNames(null);
  }
  $("product-new").addEventListener("click", function (event) { event.preventDefault(); resetProductForm(); });

  $("slot-kind").addEventListener("change", function () {
    var atTime = $("slot-kind").value === "at";
    $("cue-field").hidden = atTime; $("at-field").hidden = !atTime;
  });
  $("booking-show").addEventListener("change", renderCues);
  $("booking-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var f = event.target.elements;
    var body = {
      show_id: f.show_id.value, product_id: f.product_id.value,
      slot: f.slot_kind.value === "at" ? { at: f.at.value } : { after_cue: f.after_cue.value },
      sale_duration_ms: Number(f.sale_s.value) * 1000
    };
    if (f.flash_price_minor.value) body.flash_price_minor = Number(f.flash_price_minor.value);
    if (f.drop_budget.value) body.drop = { budget_minor: Number(f.drop_budget.value), envelopes: Number(f.drop_envelopes.value) };
    api("POST", "/bookings", body).then(function (b) { say("Booked: " + b.id + " is pending approval"); return refresh(); })
      .catch(function (e) { say(e.message, true); });
  });

  /* Results of the chosen show: the sponsor's own reveals and drops, polled every 2 s. */
  function money(minor, show) {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: show.currency })
      .format(minor / Math.pow(10, show.currency_exponent));
  }
  function renderResults(results, show) {
    var body = document.querySelector("#results-reveals tbody");
    body.replaceChildren();
    results.reveals.forEach(function (r) {
      var tr = document.createElement("tr");
      var name = r.name ? (r.name[defaultLocale()] || r.name.en || r.product_id) : r.product_id;
      [name, r.viewers_online === null ? "–" : r.viewers_online, r.displayed, r.taps,
       r.orders, r.units, money(r.gmv_minor, show),
       r.conversion === null ? "–" : (r.conversion * 100).toFixed(1) + " %"].forEach(function (v) { cell(tr, String(v)); });
      body.appendChild(tr);
    });
    var drops = document.querySelector("#results-drops tbody");
    drops.replaceChildren();
    results.drops.forEach(function (d) {
      var tr = document.createElement("tr");
      [d.name, d.status, d.grabbed + " / " + d.envelopes, money(d.given_minor, show),
       money(d.refunded_minor, show)].forEach(function (v) { cell(tr, String(v)); });
      drops.appendChild(tr);
    });
  }
  function pollResults() {
    var show = shows.filter(function (s) { return s.id === $("results-show").value; })[0];
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

  api("GET", "/me").then(function (me) {
    shows = me.shows;
    shows.forEach(function (s) { option($("booking-show"), s.id, s.title); option($("results-show"), s.id, s.title); });
    pollResults();
    renderCues(); renderNames(null);
    return refresh();
  }).catch(function (e) { say(e.message, true); });
})();
