/* The viewer page: connect, join the show, keep in step with the log, and draw each overlay when
   the viewer's own picture reaches the cue's program time (docs/architecture.md, "Time"). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("gala-config").textContent);
  var show = config.show;
  var SS = window.GalaShowState;
  var TOKEN_KEY = "gala.viewer.token";

  var locale = pickLocale();
  document.documentElement.lang = locale;
  document.documentElement.dir = locale === "ar" ? "rtl" : "ltr";
  var money = new Intl.NumberFormat(locale, { style: "currency", currency: show.currency });
  var BUY_TEXT = {
    en: { left: "left", just_bought: "just bought", soon: "Coming soon", buy: "Buy now", ended: "Sale ended", sold_out: "Sold out", limit: "Limit reached", bought: "Bought!", funds: "Not enough in your wallet", wallet: "Wallet", orders: "My orders", pay_provider: "Pay with the sandbox provider", held: "Held for you until", pay: "Pay now (sandbox)" },
    zh: { left: "件剩余", just_bought: "件刚刚售出", soon: "即将开售", buy: "立即购买", ended: "已结束", sold_out: "已售罄", limit: "已达限购", bought: "购买成功！", funds: "钱包余额不足", wallet: "钱包", orders: "我的订单", pay_provider: "使用沙盒支付", held: "已为您保留至", pay: "立即支付（沙盒）" },
    ar: { left: "متبقٍ", just_bought: "اشتُريت للتو", soon: "قريبًا", buy: "اشترِ الآن", ended: "انتهى البيع", sold_out: "نفدت الكمية", limit: "بلغت الحد", bought: "تم الشراء!", funds: "رصيد المحفظة غير كافٍ", wallet: "المحفظة", orders: "طلباتي", pay_provider: "ادفع عبر مزوّد الاختبار", held: "محجوز لك حتى", pay: "ادفع الآن (اختبار)" },
    vi: { left: "còn lại", just_bought: "vừa được mua", soon: "Sắp mở bán", buy: "Mua ngay", ended: "Đã kết thúc", sold_out: "Hết hàng", limit: "Đã đạt giới hạn", bought: "Đã mua!", funds: "Ví không đủ tiền", wallet: "Ví", orders: "Đơn của tôi", pay_provider: "Thanh toán qua cổng thử nghiệm", held: "Giữ cho bạn đến", pay: "Thanh toán (thử nghiệm)" },
    fr: { left: "restants", just_bought: "achetés à l'instant", soon: "Bientôt", buy: "Acheter", ended: "Vente terminée", sold_out: "Épuisé", limit: "Limite atteinte", bought: "Acheté !", funds: "Solde insuffisant", wallet: "Portefeuille", orders: "Mes commandes", pay_provider: "Payer avec le prestataire de test", held: "Réservé pour vous jusqu'à", pay: "Payer (test)" },
    id: { left: "tersisa", just_bought: "baru dibeli", soon: "Segera", buy: "Beli sekarang", ended: "Penjualan berakhir", sold_out: "Habis", limit: "Batas tercapai", bought: "Berhasil dibeli!", funds: "Saldo dompet kurang", wallet: "Dompet", orders: "Pesanan saya", pay_provider: "Bayar lewat penyedia uji coba", held: "Disimpan untuk Anda hingga", pay: "Bayar (uji coba)" }
  };
  var T = BUY_TEXT[locale] || BUY_TEXT.en;
  /* While the link is down: said on the status bar and on every control it disables. */
  var RECONNECTING = { en: "Reconnecting…", zh: "正在重新连接…", ar: "جارٍ إعادة الاتصال…", vi: "Đang kết nối lại…", fr: "Reconnexion…", id: "Menyambung ulang…" };
  var R = RECONNECTING[locale] || RECONNECTING.en;
  var linkUp = false;
  var saleUi = {};          /* sale_id -> "sold_out" | "limit": what a tap taught us */
  var wallet = { balance_minor: null, orders: [] };
  var figures = null;       /* the latest live sales figures (stock left, GMV) */
  var PHASE_TEXT = {
    en: { pre_show: "Starting soon", live: "LIVE", ended: "Thanks for watching" },
    zh: { pre_show: "即将开始", live: "直播中", ended: "感谢观看" },
    ar: { pre_show: "يبدأ قريبًا", live: "مباشر", ended: "شكرًا للمشاهدة" },
    vi: { pre_show: "Sắp bắt đầu", live: "TRỰC TIẾP", ended: "Cảm ơn bạn đã xem" },
    fr: { pre_show: "Bientôt en direct", live: "EN DIRECT", ended: "Merci d'avoir regardé" },
    id: { pre_show: "Segera dimulai", live: "LANGSUNG", ended: "Terima kasih telah menonton" }
  };

  /* Red-envelope drops: {n}, {m} and {amount} are filled in by fill(). */
  var DROP_TEXT = {
    en: { soon: "Red envelopes in {n}…", tap: "Tap an envelope!", won: "You got {amount}", gone: "All gone", missed: "Missed it", cancelled: "Drop cancelled", left: "{n} of {m} left", grab: "Grab a red envelope" },
    zh: { soon: "红包雨 {n} 秒后开始…", tap: "快点红包！", won: "你抢到了 {amount}", gone: "红包已抢光", missed: "错过了", cancelled: "红包雨已取消", left: "剩余 {n}/{m} 个", grab: "抢红包" },
    ar: { soon: "الأظرف الحمراء بعد {n}…", tap: "انقر على ظرف!", won: "ربحت {amount}", gone: "نفدت الأظرف", missed: "فاتتك", cancelled: "أُلغي توزيع الأظرف", left: "متبقٍ {n} من {m}", grab: "التقط ظرفًا أحمر" },
    vi: { soon: "Mưa lì xì sau {n}…", tap: "Chạm vào bao lì xì!", won: "Bạn nhận được {amount}", gone: "Đã hết lì xì", missed: "Lỡ mất rồi", cancelled: "Mưa lì xì đã bị hủy", left: "Còn {n}/{m}", grab: "Nhận lì xì" },
    fr: { soon: "Enveloppes rouges dans {n}…", tap: "Touchez une enveloppe !", won: "Vous avez gagné {amount}", gone: "Tout est parti", missed: "Raté", cancelled: "Distribution annulée", left: "{n} sur {m} restantes", grab: "Attraper une enveloppe rouge" },
    id: { soon: "Hujan angpao dalam {n}…", tap: "Ketuk angpao!", won: "Kamu dapat {amount}", gone: "Angpao habis", missed: "Terlewat", cancelled: "Hujan angpao dibatalkan", left: "{n} dari {m} tersisa", grab: "Ambil angpao" }
  };
  var D = DROP_TEXT[locale] || DROP_TEXT.en;
  var counting = new Intl.NumberFormat(locale);
  var DROP_RESULT_MS = 6000;   /* how long a drop's result stays up */
  var GRAB_TIMEOUT_MS = 8000;  /* a grab without an answer by then may be tapped again */
  var dropFigures = {};        /* drop_id -> its latest figures (kept once it leaves them) */
  var dropUi = {};             /* drop_id -> what this viewer saw and got: seen, busy, result, amount_minor, result_at */
  var dropShown = null;        /* the drop on screen */

  var clockOffsetMs = 0, bestRttMs = Infinity;
  var received = SS.emptyState(null);   /* fold of every event received */
  var displayed = SS.emptyState(null);  /* what the picture has reached */
  var pending = [];                     /* events received but not yet due on this picture */
  var socket = null, link = null;

  function pickLocale() {
    var wanted = new URLSearchParams(location.search).get("lang");
    var candidates = [wanted].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < candidates.length; i++) {
      var c = (candidates[i] || "").toLowerCase();
      if (!c) continue;
      if (show.locales.indexOf(c) >= 0) return c;
      var base = c.split("-")[0];
      if (show.locales.indexOf(base) >= 0) return base;
    }
    return show.default_locale;
  }

  function text(localized) {
    if (!localized) return "";
    if (typeof localized === "string") return localized;
    return localized[locale] || localized[show.default_locale] || Object.values(localized)[0] || "";
  }

  function serverNow() { return Date.now() + clockOffsetMs; }

  /* Program time the viewer's picture shows now: the placeholder is live; an HLS stream tells
     its position through EXT-X-PROGRAM-DATE-TIME. */
  var hls = null;
  function pictureNow() {
    if (hls && hls.playingDate) return hls.playingDate.getTime();
    return serverNow();
  }

  var sequencer = new SS.Sequencer(
    function (ev) { received = SS.fold(received, ev); pending.push(ev); tick(); },
    function () { join(); },
    function (snapshot) { received = snapshot; displayed = snapshot; pending = []; render(); }
  );

  function connect() {
    var refreshFirst = false;
    link = GalaLink.open("/", { auth: function (cb) { cb({ token: localStorage.getItem(TOKEN_KEY) }); } }, {
      onState: function (state) {
        setConn(state);
        if (state === "live") { syncClock(5); join(); } else { sequencer.joining(); }
      },
      /* a refused handshake (expired or foreign token): get a fresh token before the next try */
      onRefused: function () { refreshFirst = true; },
      beforeConnect: function () {
        if (!refreshFirst) return null;
        refreshFirst = false;
        return refreshToken();
      }
    });
    socket = link.socket;
    socket.on("event", function (ev) { sequencer.receive(ev); });
    socket.on("figures", function (f) {
      figures = f;
      Object.keys(f.drops || {}).forEach(function (id) { dropFigures[id] = f.drops[id]; });
      renderFigures(); renderBuy(); renderDrop();
    });
  }

  function join() {
    sequencer.joining();
    link.send("join", { show_id: show.id, resume: sequencer.position() }, function (ack) {
      if (!ack.ok) { if (link.connected()) setTimeout(join, 1000); return; }
      sequencer.joined(ack.data);
      loadWallet();
    });
  }

  function syncClock(samples) {
    var t0 = Date.now();
    socket.emit("time", { t0: t0 }, function (ack) {
      var t3 = Date.now();
      if (ack && ack.ok && t3 - t0 < bestRttMs) {
        bestRttMs = t3 - t0;
        clockOffsetMs = ack.data.server_ms - (t0 + t3) / 2;
      }
      if (samples > 1) setTimeout(function () { syncClock(samples - 1); }, 200);
    });
  }

  function refreshToken() {
    return fetch("/api/viewer-token", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: localStorage.getItem(TOKEN_KEY) })
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (body.ok) localStorage.setItem(TOKEN_KEY, body.data.token);
    });
  }

  function tick() {
    var now = pictureNow(), changed = false;
    while (pending.length && pending[0].program_time_ms <= now) {
      displayed = SS.fold(displayed, pending.shift()); changed = true;
    }
    if (changed) { render(); renderFigures(); }
    renderCountdown();
    renderBuy();
    renderDrop();
  }

  /* "live" or "reconnecting": while down the page says so, the phase no longer claims LIVE and
     the Buy and grab controls are disabled with the reason. */
  function setConn(state) {
    linkUp = state === "live";
    var conn = document.getElementById("conn");
    conn.dataset.state = state;
    conn.title = linkUp ? "" : R;
    document.getElementById("link").hidden = linkUp;
    document.getElementById("link").textContent = R;
    document.getElementById("player").dataset.link = linkUp ? "up" : "down";
    render(); renderDrop();
  }

  function render() {
    var phase = document.getElementById("phase");
    phase.dataset.phase = linkUp ? displayed.show.phase : "reconnecting";
    phase.textContent = linkUp ? (PHASE_TEXT[locale] || PHASE_TEXT.en)[displayed.show.phase] || "" : R;
    SS.LAYERS.forEach(function (layer) {
      var el = document.querySelector('[data-layer="' + layer + '"]');
      var overlay = displayed.layers[layer];
      el.hidden = !overlay;
      el.dataset.overlayId = overlay ? overlay.id : "";
      el.replaceChildren();
      if (overlay) draw(el, overlay);
    });
    acknowledgeProduct(displayed.layers.product_card);
    renderCountdown();
    renderBuy();
  }

  // Tell the server this screen really showed the product card (the sponsor's "viewers who saw
  // it"): once per card going up, when the picture reaches the cue, not when the message came.
  var acknowledgedProduct = null;
  function acknowledgeProduct(overlay) {
    var productId = overlay && overlay.kind === "product" ? overlay.id : null;
    if (productId && productId !== acknowledgedProduct && socket && socket.connected) {
      socket.emit("displayed", { show_id: show.id, product_id: productId });
    }
    acknowledgedProduct = productId;
  }

  function node(tag, cls, content) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (content !== undefined) el.textContent = content;
    return el;
  }

  function draw(el, o) {
    if (o.kind === "banner") { el.append(node("p", "banner-text", text(o.text))); }
    else if (o.kind === "lower_third") {
      el.append(node("p", "lt-title", text(o.title)));
      if (o.subtitle) el.append(node("p", "lt-subtitle", text(o.subtitle)));
    } else if (o.kind === "fullscreen") {
      if (o.image) { var img = node("img", "fs-image"); img.src = o.image; img.alt = ""; el.append(img); }
      el.append(node("h2", "fs-title", text(o.title)));
      if (o.body) el.append(node("p", "fs-body", text(o.body)));
    } else if (o.kind === "countdown") {
      el.append(node("p", "cd-label", text(o.label)), node("p", "cd-time", ""));
    } else if (o.kind === "product") {
      var p = o.product, card = node("div", "product-card");
      var pic = node("img", "product-image"); pic.src = p.image; pic.alt = text(p.name);
      var info = node("div", "product-info");
      info.append(node("p", "product-sponsor", p.sponsor.name), node("p", "product-name", text(p.name)));
      if (p.description) info.append(node("p", "product-desc", text(p.description)));
      info.append(node("p", "product-price", money.format(p.price_minor / Math.pow(10, show.currency_exponent))));
      var button = node("button", "buy-button");
      button.type = "button";
      button.dataset.productId = p.id;
      button.addEventListener("click", function () { tapBuy(p.id, button); });
      info.append(node("p", "product-stock", ""), button);
      card.append(pic, info);
      el.append(card);
    }
  }

  function formatMoney(minor) { return money.format(minor / Math.pow(10, show.currency_exponent)); }

  /* The Buy button follows the sale as the picture shows it, the server's clock for its window,
     and what the last tap answered. The server decides every tap whatever the button shows. */
  function renderBuy() {
    var button = document.querySelector(".buy-button");
    if (!button || button.dataset.busy) return;
    var sale = displayed.sales[button.dataset.productId], now = serverNow(), state;
    if (!sale || now < sale.opens_at_ms) state = "soon";
    else if (sale.status !== "open" || (sale.closes_at_ms !== null && now >= sale.closes_at_ms)) state = "ended";
    else if (figureOf(sale).sold_out) state = "sold_out";
    else state = saleUi[sale.sale_id] || "buy";
    if (!linkUp && state !== "ended") state = "offline";
    button.dataset.state = state;
    button.disabled = state !== "buy";
    button.textContent = state === "offline" ? R : T[state];
  }

  function figureOf(sale) {
    var f = figures && figures.products[sale.product_id];
    return f && f.sale_id === sale.sale_id ? f : {};
  }

  function renderFigures() {
    var gmv = document.getElementById("gmv");
    if (!figures) return;
    gmv.hidden = false;
    gmv.textContent = "GMV " + formatMoney(figures.gmv_minor);
    var stock = document.querySelector(".product-stock");
    var button = document.querySelector(".buy-button");
    if (stock && button) {
      var sale = displayed.sales[button.dataset.productId];
      var f = sale ? figureOf(sale) : {};
      stock.textContent = f.left === undefined ? "" : (f.sold_out ? T.sold_out : f.left + " " + T.left);
    }
    var bought = Object.keys(figures.just_bought || {});
    if (bought.length) {
      var feed = document.getElementById("feed");
      var count = bought.reduce(function (n, pid) { return n + figures.just_bought[pid]; }, 0);
      feed.textContent = "🔥 " + count + " " + T.just_bought;
      feed.hidden = false;
      clearTimeout(renderFigures.timer);
      renderFigures.timer = setTimeout(function () { feed.hidden = true; }, 1500);
    }
  }

  function toast(message, isError) {
    var el = document.getElementById("toast");
    el.textContent = message;
    el.className = "toast" + (isError ? " error" : "");
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { el.hidden = true; }, 2500);
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return "tap-" + crypto.randomUUID();
    return "tap-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  function tapBuy(productId, button) {
    var sale = displayed.sales[productId];
    if (!sale || !socket) return;
    var key = newKey();
    button.dataset.busy = "1";
    button.disabled = true;
    link.send("buy", { show_id: show.id, product_id: productId, quantity: 1, key: key }, function (ack) {
      delete button.dataset.busy;
      if (ack && ack.ok) {
        wallet.balance_minor = ack.data.balance_minor;
        wallet.orders.push(ack.data.order);
        toast(T.bought + " −" + formatMoney(ack.data.order.amount_minor), false);
      } else {
        var code = ack && ack.error ? ack.error.code : "error";
        if (code === "sold_out") saleUi[sale.sale_id] = "sold_out";
        if (code === "limit_reached") saleUi[sale.sale_id] = "limit";
        var said = code === "offline" || code === "no_answer" ? R : null;
        toast(said || (code === "insufficient_funds" ? T.funds : (T[code === "limit_reached" ? "limit" : code] || ack.error.message)), true);
        if (code === "insufficient_funds" && config.payment_provider) offerProvider(productId);
      }
      renderWallet();
      renderBuy();
    });
  }

  /* Not enough in the wallet: offer the payment provider. A new tap (new key: a key names one
     payload) holds the units for the sale's hold time; the provider's page opens in a new tab
     (opened in the click, so no popup blocker stops it) and the wallet is reloaded until the
     order is no longer held. */
  function offerProvider(productId) {
    var offer = document.getElementById("pay-offer");
    var button = node("button", "pay-provider", T.pay_provider);
    button.type = "button";
    button.addEventListener("click", function () {
      if (!link.connected()) { toast(R, true); return; }   /* refused now, never sent later */
      var tab = window.open("", "_blank");
      button.disabled = true;
      link.send("buy", { show_id: show.id, product_id: productId, quantity: 1, key: newKey(), payment: "provider" }, function (ack) {
        offer.replaceChildren();
        if (!ack || !ack.ok || !ack.data.payment) {
          if (tab) tab.close();
          offer.hidden = true;
          toast(ack && ack.error ? (T[ack.error.code] || ack.error.message) : "error", true);
          return;
        }
        var order = ack.data.order, payment = ack.data.payment;
        wallet.orders.push(order);
        renderWallet();
        var until = new Date(payment.expires_at_ms - clockOffsetMs).toLocaleTimeString(locale);
        var link = node("a", "pay-link", T.pay + " " + formatMoney(payment.amount_minor));
        link.href = payment.pay_url; link.target = "_blank"; link.rel = "noopener";
        offer.append(node("span", "pay-held", T.held + " " + until), link);
        if (tab) tab.location.href = new URL(payment.pay_url, location.href).href;
        watchOrder(order.order_id, payment.expires_at_ms);
      });
    });
    offer.replaceChildren(button);
    offer.hidden = false;
  }

  function watchOrder(orderId, expiresAtMs) {
    var timer = setInterval(function () {
      link.send("wallet", { show_id: show.id }, function (ack) {
        if (!ack.ok) return;
        wallet = ack.data; renderWallet();
        var order = wallet.orders.filter(function (o) { return o.order_id === orderId; })[0];
        if (!order || order.state !== "held" || serverNow() > expiresAtMs + 5000) {
          clearInterval(timer);
          document.getElementById("pay-offer").hidden = true;
          if (order && order.state === "paid") toast(T.bought + " −" + formatMoney(order.amount_minor), false);
        }
      });
    }, 2000);
  }

  function loadWallet() {
    link.send("wallet", { show_id: show.id }, function (ack) {
      if (ack.ok) { wallet = ack.data; renderWallet(); }
    });
  }

  function renderWallet() {
    var el = document.getElementById("wallet");
    if (wallet.balance_minor === null) { el.hidden = true; return; }
    el.hidden = false;
    el.textContent = T.wallet + " " + formatMoney(wallet.balance_minor) + " · " + T.orders + " (" + wallet.orders.length + ")";
    var list = document.getElementById("orders");
    list.replaceChildren();
    wallet.orders.forEach(function (o) {
      var item = node("li", "", o.quantity + " × " + formatMoney(o.amount_minor / o.quantity) + " · " + o.state);
      item.dataset.state = o.state;
      list.append(item);
    });
  }

  function renderCountdown() {
    var o = displayed.layers.countdown;
    if (!o) return;
    var el = document.querySelector('[data-layer="countdown"] .cd-time');
    if (!el) return;
    var left = Math.max(0, Math.ceil((o.ends_at_ms - pictureNow()) / 1000));
    var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
    el.textContent = (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
  }

  /* Red-envelope drops, on the server's clock (the window is the server's, not the picture's):
     a countdown to opens_at_ms, then a rain of envelopes until closes_at_ms, the last envelope,
     or this viewer's result. The rain is a handful of buttons falling by CSS animation. */
  var dropEl = document.getElementById("drop");
  var envelopes = Array.prototype.slice.call(document.querySelectorAll("#drop .envelope"));
  var dropTitle = document.getElementById("drop-title");
  var dropLeft = document.getElementById("drop-left");
  var dropResult = document.getElementById("drop-result");

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) { return key in values ? values[key] : all; });
  }
  function setText(el, value) { if (el.textContent !== value) el.textContent = value; }
  function uiOf(dropId) { return dropUi[dropId] || (dropUi[dropId] = {}); }

  function finish(ui, result, amountMinor) {
    ui.result = result;
    ui.amount_minor = amountMinor === undefined ? null : amountMinor;
    ui.result_at = serverNow();
  }

  /* What a drop shows now: "countdown", "rain", "result", or null (nothing). */
  function dropStage(d, now) {
    var ui = uiOf(d.drop_id), f = dropFigures[d.drop_id];
    if (ui.hidden) return null;
    if (ui.result) return now - ui.result_at < DROP_RESULT_MS ? "result" : null;
    if (ui.busy) return "rain";
    var cancelled = f && f.status === "cancelled";
    var gone = f && f.left === 0;
    if (cancelled || gone || now >= d.closes_at_ms || (f && f.status === "closed")) {
      if (!ui.seen) return null;   /* it ended before this viewer saw it: nothing to say */
      finish(ui, cancelled ? "cancelled" : gone ? "gone" : "missed");
      return "result";
    }
    return now < d.opens_at_ms ? "countdown" : "rain";
  }

  function renderDrop() {
    var now = serverNow(), drops = received.drops || {}, shown = null, stage = null;
    Object.keys(drops).forEach(function (id) {
      var d = drops[id], s = dropStage(d, now);
      if (s && (!shown || d.opens_at_ms < shown.opens_at_ms)) { shown = d; stage = s; }
    });
    dropShown = shown;
    if (!shown) {
      if (!dropEl.hidden) { dropEl.hidden = true; dropEl.dataset.state = "off"; }
      return;
    }
    var ui = uiOf(shown.drop_id), f = dropFigures[shown.drop_id];
    if (stage !== "result") ui.seen = true;
    dropEl.hidden = false;
    if (dropEl.dataset.state !== stage) dropEl.dataset.state = stage;
    dropEl.classList.toggle("busy", !!ui.busy);
    dropEl.dataset.link = linkUp ? "up" : "down";
    envelopes.forEach(function (button) { button.disabled = !linkUp; button.title = linkUp ? "" : R; });
    if (stage === "rain" && !linkUp) {
      setText(dropTitle, R);
    } else if (stage === "countdown") {
      setText(dropTitle, fill(D.soon, { n: counting.format(Math.max(1, Math.ceil((shown.opens_at_ms - now) / 1000))) }));
    } else if (stage === "rain") {
      setText(dropTitle, D.tap);
    } else {
      setText(dropTitle, "");
      setText(dropResult, ui.result === "won" ? fill(D.won, { amount: formatMoney(ui.amount_minor) }) : D[ui.result]);
      dropResult.dataset.result = ui.result;
    }
    setText(dropLeft, f ? fill(D.left, { n: counting.format(f.left), m: counting.format(f.envelopes) }) : "");
  }

  function tapEnvelope(e) {
    if (e.type === "pointerdown" && e.pointerType === "mouse" && e.button !== 0) return;
    var d = dropShown;
    if (!d || !link || !link.connected()) return;
    var ui = uiOf(d.drop_id);
    if (ui.busy || ui.result || serverNow() < d.opens_at_ms) return;   /* one grab in flight at most */
    ui.busy = true;
    renderDrop();
    link.send("grab", { show_id: show.id, drop_id: d.drop_id }, function (ack) {
      ui.busy = false;
      if (!ack.ok && (ack.error.code === "no_answer" || ack.error.code === "offline")) {
        renderDrop(); return;   /* no answer: a new tap asks again, safely */
      }
      if (ack.ok) {
        finish(ui, "won", ack.data.amount_minor);
        wallet.balance_minor = ack.data.balance_minor;
        renderWallet();
      } else {
        var code = ack.error ? ack.error.code : "";
        if (code === "already_grabbed") { finish(ui, "won", ack.error.amount_minor); loadWallet(); }
        else if (code === "empty") finish(ui, "gone");
        else if (code === "closed") finish(ui, "missed");
        else if (code === "drop_cancelled") finish(ui, "cancelled");
        else if (code === "unknown_drop") ui.hidden = true;
        else if (code === "not_open") syncClock(3);   /* our clock ran ahead: tap again */
        /* rate_limited and anything else: quietly let the viewer tap again */
      }
      renderDrop();
    }, GRAB_TIMEOUT_MS);
  }

  envelopes.forEach(function (button) {
    button.setAttribute("aria-label", D.grab);
    button.addEventListener("pointerdown", tapEnvelope);
    button.addEventListener("click", tapEnvelope);   /* keyboard, and taps without pointer events */
  });
  dropResult.addEventListener("click", function () {
    if (dropShown) { uiOf(dropShown.drop_id).result_at = -Infinity; renderDrop(); }
  });

  function startStream() {
    var video = document.getElementById("stream");
    if (!video || !show.stream_url) return;
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ lowLatencyMode: true });
      hls.loadSource(show.stream_url);
      hls.attachMedia(video);
    } else {
      video.src = show.stream_url;
    }
  }

  document.getElementById("wallet").addEventListener("click", function () {
    var list = document.getElementById("orders"); list.hidden = !list.hidden;
  });
  window.galaViewer = { state: function () { return { received: received, displayed: displayed, offset_ms: clockOffsetMs }; } };
  startStream();
  setInterval(tick, 100);
  setInterval(function () { if (socket && socket.connected) syncClock(1); }, 30000);
  (localStorage.getItem(TOKEN_KEY) ? Promise.resolve() : refreshToken()).then(connect);
})();
