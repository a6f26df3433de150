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
  var rtl = locale === "ar";
  document.documentElement.dir = rtl ? "rtl" : "ltr";
  var money = new Intl.NumberFormat(locale, { style: "currency", currency: show.currency });
  var BUY_TEXT = {
    en: { left: "left", just_bought: "just bought", soon: "Coming soon", buy: "Buy now", ended: "Sale ended", sold_out: "Sold out", limit: "Limit reached", bought: "Bought!", funds: "Not enough in your wallet", wallet: "Wallet", orders: "My orders", pay_provider: "Pay with the sandbox provider", held: "Held for you until", pay: "Pay now (sandbox)", confirm: "Confirm {amount}", gmv: "Sales", bag: "Products of this show", bag_empty: "Nothing on sale right now", close: "Close", starts: "Starts at {time}", order_of: "{name}", state_paid: "paid", state_held: "awaiting payment", state_released: "released", state_refunded: "refunded" },
    zh: { left: "件剩余", just_bought: "件刚刚售出", soon: "即将开售", buy: "立即购买", ended: "已结束", sold_out: "已售罄", limit: "已达限购", bought: "购买成功！", funds: "钱包余额不足", wallet: "钱包", orders: "我的订单", pay_provider: "使用沙盒支付", held: "已为您保留至", pay: "立即支付（沙盒）", confirm: "确认支付 {amount}", gmv: "成交额", bag: "本场商品", bag_empty: "当前没有在售商品", close: "关闭", starts: "{time} 开始", order_of: "{name}", state_paid: "已支付", state_held: "待支付", state_released: "已释放", state_refunded: "已退款" },
    ar: { left: "متبقٍ", just_bought: "اشتُريت للتو", soon: "قريبًا", buy: "اشترِ الآن", ended: "انتهى البيع", sold_out: "نفدت الكمية", limit: "بلغت الحد", bought: "تم الشراء!", funds: "رصيد المحفظة غير كافٍ", wallet: "المحفظة", orders: "طلباتي", pay_provider: "ادفع عبر مزوّد الاختبار", held: "محجوز لك حتى", pay: "ادفع الآن (اختبار)", confirm: "تأكيد {amount}", gmv: "المبيعات", bag: "منتجات هذا العرض", bag_empty: "لا شيء معروض للبيع الآن", close: "إغلاق", starts: "يبدأ في {time}", order_of: "{name}", state_paid: "مدفوع", state_held: "بانتظار الدفع", state_released: "مُلغى الحجز", state_refunded: "مُسترد" },
    vi: { left: "còn lại", just_bought: "vừa được mua", soon: "Sắp mở bán", buy: "Mua ngay", ended: "Đã kết thúc", sold_out: "Hết hàng", limit: "Đã đạt giới hạn", bought: "Đã mua!", funds: "Ví không đủ tiền", wallet: "Ví", orders: "Đơn của tôi", pay_provider: "Thanh toán qua cổng thử nghiệm", held: "Giữ cho bạn đến", pay: "Thanh toán (thử nghiệm)", confirm: "Xác nhận {amount}", gmv: "Doanh số", bag: "Sản phẩm của chương trình", bag_empty: "Hiện không có sản phẩm đang bán", close: "Đóng", starts: "Bắt đầu lúc {time}", order_of: "{name}", state_paid: "đã thanh toán", state_held: "chờ thanh toán", state_released: "đã hủy giữ hàng", state_refunded: "đã hoàn tiền" },
    fr: { left: "restants", just_bought: "achetés à l'instant", soon: "Bientôt", buy: "Acheter", ended: "Vente terminée", sold_out: "Épuisé", limit: "Limite atteinte", bought: "Acheté !", funds: "Solde insuffisant", wallet: "Portefeuille", orders: "Mes commandes", pay_provider: "Payer avec le prestataire de test", held: "Réservé pour vous jusqu'à", pay: "Payer (test)", confirm: "Confirmer {amount}", gmv: "Ventes", bag: "Produits de l'émission", bag_empty: "Rien en vente pour le moment", close: "Fermer", starts: "Début à {time}", order_of: "{name}", state_paid: "payée", state_held: "en attente de paiement", state_released: "annulée", state_refunded: "remboursée" },
    id: { left: "tersisa", just_bought: "baru dibeli", soon: "Segera", buy: "Beli sekarang", ended: "Penjualan berakhir", sold_out: "Habis", limit: "Batas tercapai", bought: "Berhasil dibeli!", funds: "Saldo dompet kurang", wallet: "Dompet", orders: "Pesanan saya", pay_provider: "Bayar lewat penyedia uji coba", held: "Disimpan untuk Anda hingga", pay: "Bayar (uji coba)", confirm: "Konfirmasi {amount}", gmv: "Penjualan", bag: "Produk acara ini", bag_empty: "Belum ada yang dijual saat ini", close: "Tutup", starts: "Mulai pukul {time}", order_of: "{name}", state_paid: "dibayar", state_held: "menunggu pembayaran", state_released: "dilepas", state_refunded: "dikembalikan" }
  };
  /* Every refusal a buy or a grab can get (docs/protocol.md), in the page's language; the
     server's English message is shown only for a code this table does not know. */
  var ERROR_TEXT = {
    en: { sale_not_open: "Not on sale yet", sale_closed: "This sale has ended", sold_out: "Sold out", not_enough_stock: "Not enough left", limit_reached: "You have reached the limit for this product", insufficient_funds: "Not enough in your wallet", idempotency_mismatch: "That tap was already used: tap again", bad_key: "Something went wrong: tap again", bad_quantity: "That quantity cannot be bought", bad_field: "Something went wrong: tap again", payments_unavailable: "Paying by provider is not available", forbidden: "Only viewers can do this", unknown_show: "This show is not available", busy: "Very busy right now: tap again", rate_limited: "Too many taps: wait a moment", unknown_drop: "This drop is over", not_open: "Not open yet", closed: "Closed", empty: "All gone", drop_cancelled: "Drop cancelled", already_grabbed: "Already grabbed", bad_payload: "Something went wrong: tap again", payload_too_large: "Something went wrong: tap again", internal_error: "Something went wrong on our side: tap again", error: "Something went wrong: tap again" },
    zh: { sale_not_open: "尚未开售", sale_closed: "本轮销售已结束", sold_out: "已售罄", not_enough_stock: "库存不足", limit_reached: "您已达到该商品的限购数量", insufficient_funds: "钱包余额不足", idempotency_mismatch: "该操作已使用，请重新点击", bad_key: "出错了，请重新点击", bad_quantity: "无法购买该数量", bad_field: "出错了，请重新点击", payments_unavailable: "暂不支持第三方支付", forbidden: "仅观众可以操作", unknown_show: "该节目不可用", busy: "当前人数过多，请重新点击", rate_limited: "点击太频繁，请稍候", unknown_drop: "红包雨已结束", not_open: "尚未开始", closed: "已结束", empty: "红包已抢光", drop_cancelled: "红包雨已取消", already_grabbed: "已经抢过了", bad_payload: "出错了，请重新点击", payload_too_large: "出错了，请重新点击", internal_error: "系统出错，请重新点击", error: "出错了，请重新点击" },
    ar: { sale_not_open: "لم يبدأ البيع بعد", sale_closed: "انتهى هذا البيع", sold_out: "نفدت الكمية", not_enough_stock: "الكمية المتبقية غير كافية", limit_reached: "بلغت الحد المسموح لهذا المنتج", insufficient_funds: "رصيد المحفظة غير كافٍ", idempotency_mismatch: "استُخدمت هذه النقرة من قبل: انقر مجددًا", bad_key: "حدث خطأ: انقر مجددًا", bad_quantity: "لا يمكن شراء هذه الكمية", bad_field: "حدث خطأ: انقر مجددًا", payments_unavailable: "الدفع عبر المزوّد غير متاح", forbidden: "هذا متاح للمشاهدين فقط", unknown_show: "هذا العرض غير متاح", busy: "ضغط كبير الآن: انقر مجددًا", rate_limited: "نقرات كثيرة: انتظر قليلًا", unknown_drop: "انتهى توزيع الأظرف", not_open: "لم يبدأ بعد", closed: "انتهى", empty: "نفدت الأظرف", drop_cancelled: "أُلغي توزيع الأظرف", already_grabbed: "التقطت ظرفك من قبل", bad_payload: "حدث خطأ: انقر مجددًا", payload_too_large: "حدث خطأ: انقر مجددًا", internal_error: "حدث خطأ لدينا: انقر مجددًا", error: "حدث خطأ: انقر مجددًا" },
    vi: { sale_not_open: "Chưa mở bán", sale_closed: "Đợt bán này đã kết thúc", sold_out: "Hết hàng", not_enough_stock: "Không đủ hàng", limit_reached: "Bạn đã đạt giới hạn mua sản phẩm này", insufficient_funds: "Ví không đủ tiền", idempotency_mismatch: "Lần chạm này đã được dùng: hãy chạm lại", bad_key: "Đã có lỗi: hãy chạm lại", bad_quantity: "Không thể mua số lượng này", bad_field: "Đã có lỗi: hãy chạm lại", payments_unavailable: "Không thể thanh toán qua cổng", forbidden: "Chỉ người xem mới làm được việc này", unknown_show: "Chương trình này không khả dụng", busy: "Hệ thống đang bận: hãy chạm lại", rate_limited: "Chạm quá nhanh: chờ một chút", unknown_drop: "Mưa lì xì đã kết thúc", not_open: "Chưa mở", closed: "Đã đóng", empty: "Đã hết lì xì", drop_cancelled: "Mưa lì xì đã bị hủy", already_grabbed: "Bạn đã nhận rồi", bad_payload: "Đã có lỗi: hãy chạm lại", payload_too_large: "Đã có lỗi: hãy chạm lại", internal_error: "Lỗi từ phía chúng tôi: hãy chạm lại", error: "Đã có lỗi: hãy chạm lại" },
    fr: { sale_not_open: "Pas encore en vente", sale_closed: "Cette vente est terminée", sold_out: "Épuisé", not_enough_stock: "Stock insuffisant", limit_reached: "Vous avez atteint la limite pour ce produit", insufficient_funds: "Solde insuffisant", idempotency_mismatch: "Ce geste a déjà servi : touchez à nouveau", bad_key: "Un problème est survenu : touchez à nouveau", bad_quantity: "Cette quantité ne peut pas être achetée", bad_field: "Un problème est survenu : touchez à nouveau", payments_unavailable: "Le paiement par prestataire n'est pas disponible", forbidden: "Réservé aux spectateurs", unknown_show: "Cette émission n'est pas disponible", busy: "Forte affluence : touchez à nouveau", rate_limited: "Trop de touches : patientez un instant", unknown_drop: "Cette distribution est terminée", not_open: "Pas encore ouvert", closed: "Terminé", empty: "Tout est parti", drop_cancelled: "Distribution annulée", already_grabbed: "Déjà attrapée", bad_payload: "Un problème est survenu : touchez à nouveau", payload_too_large: "Un problème est survenu : touchez à nouveau", internal_error: "Un problème est survenu chez nous : touchez à nouveau", error: "Un problème est survenu : touchez à nouveau" },
    id: { sale_not_open: "Belum dijual", sale_closed: "Penjualan ini sudah berakhir", sold_out: "Habis", not_enough_stock: "Stok tidak cukup", limit_reached: "Anda sudah mencapai batas untuk produk ini", insufficient_funds: "Saldo dompet kurang", idempotency_mismatch: "Ketukan itu sudah dipakai: ketuk lagi", bad_key: "Terjadi kesalahan: ketuk lagi", bad_quantity: "Jumlah itu tidak bisa dibeli", bad_field: "Terjadi kesalahan: ketuk lagi", payments_unavailable: "Pembayaran lewat penyedia tidak tersedia", forbidden: "Hanya untuk penonton", unknown_show: "Acara ini tidak tersedia", busy: "Sedang ramai: ketuk lagi", rate_limited: "Terlalu banyak ketukan: tunggu sebentar", unknown_drop: "Hujan angpao sudah berakhir", not_open: "Belum dibuka", closed: "Sudah ditutup", empty: "Angpao habis", drop_cancelled: "Hujan angpao dibatalkan", already_grabbed: "Sudah diambil", bad_payload: "Terjadi kesalahan: ketuk lagi", payload_too_large: "Terjadi kesalahan: ketuk lagi", internal_error: "Terjadi kesalahan di pihak kami: ketuk lagi", error: "Terjadi kesalahan: ketuk lagi" }
  };
  var E = ERROR_TEXT[locale] || ERROR_TEXT.en;
  var T = BUY_TEXT[locale] || BUY_TEXT.en;
  /* While the link is down: said on the status bar and on every control it disables. */
  var RECONNECTING = { en: "Reconnecting…", zh: "正在重新连接…", ar: "جارٍ إعادة الاتصال…", vi: "Đang kết nối lại…", fr: "Reconnexion…", id: "Menyambung ulang…" };
  var R = RECONNECTING[locale] || RECONNECTING.en;
  var linkUp = false;
  var saleUi = {};          /* sale_id -> "sold_out" | "limit": what a tap taught us */
  var wallet = { balance_minor: null, orders: [] };
  var figures = null;       /* the latest live sales figures (stock left, GMV) */
  var CATALOG_KEY = "gala.viewer.catalog." + show.id;
  var catalog = loadStored(CATALOG_KEY);   /* product_id -> the product its reveal carried (name, price, image, sponsor); kept in the browser for a reload */
  var offer = null;         /* the pay-with-provider offer on screen: {product_id, card}, card = the card up when it was made */
  /* Large amounts take a second tap: the first turns the button into "Confirm CN¥3,999.00" for
     CONFIRM_MS, the second (on that same button, for that product) buys. The threshold is
     1,000.00 in the show's currency (minor units by its exponent): a price a viewer would not
     want spent by a stray tap, well above the impulse buys of a show. */
  var CONFIRM_ABOVE_MINOR = 1000 * Math.pow(10, show.currency_exponent);
  var CONFIRM_MS = 4000;
  var confirming = null;    /* {product_id, button, until}: the tap that waits for its confirmation */
  /* Which product each of this viewer's orders was for (a wallet answer names none): kept in
     the browser, so "My orders" names them after a reload on this device too. */
  var ORDERS_KEY = "gala.viewer.orders." + show.id;
  var orderProducts = loadStored(ORDERS_KEY);
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
    en: { soon: "Red envelopes in {n}…", tap: "Tap an envelope!", won: "You got {amount}", gone: "All gone", missed: "Missed it", cancelled: "Drop cancelled", left: "{n} of {m} left", grab: "Grab a red envelope", name: "Red envelopes", from: "{name} · {sponsor}" },
    zh: { soon: "红包雨 {n} 秒后开始…", tap: "快点红包！", won: "你抢到了 {amount}", gone: "红包已抢光", missed: "错过了", cancelled: "红包雨已取消", left: "剩余 {n}/{m} 个", grab: "抢红包", name: "红包雨", from: "{name} · {sponsor}" },
    ar: { soon: "الأظرف الحمراء بعد {n}…", tap: "انقر على ظرف!", won: "ربحت {amount}", gone: "نفدت الأظرف", missed: "فاتتك", cancelled: "أُلغي توزيع الأظرف", left: "متبقٍ {n} من {m}", grab: "التقط ظرفًا أحمر", name: "الأظرف الحمراء", from: "{name} · {sponsor}" },
    vi: { soon: "Mưa lì xì sau {n}…", tap: "Chạm vào bao lì xì!", won: "Bạn nhận được {amount}", gone: "Đã hết lì xì", missed: "Lỡ mất rồi", cancelled: "Mưa lì xì đã bị hủy", left: "Còn {n}/{m}", grab: "Nhận lì xì", name: "Mưa lì xì", from: "{name} · {sponsor}" },
    fr: { soon: "Enveloppes rouges dans {n}…", tap: "Touchez une enveloppe !", won: "Vous avez gagné {amount}", gone: "Tout est parti", missed: "Raté", cancelled: "Distribution annulée", left: "{n} sur {m} restantes", grab: "Attraper une enveloppe rouge", name: "Enveloppes rouges", from: "{name} · {sponsor}" },
    id: { soon: "Hujan angpao dalam {n}…", tap: "Ketuk angpao!", won: "Kamu dapat {amount}", gone: "Angpao habis", missed: "Terlewat", cancelled: "Hujan angpao dibatalkan", left: "{n} dari {m} tersisa", grab: "Ambil angpao", name: "Hujan angpao", from: "{name} · {sponsor}" }
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

  function loadStored(key) {
    try { return JSON.parse(localStorage.getItem(key) || "{}") || {}; } catch (e) { return {}; }
  }
  function store(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode: this session only */ }
  }
  function rememberOrder(orderId, productId) {
    var p = catalog[productId];
    orderProducts[orderId] = { id: productId, name: p ? p.name : null };
    store(ORDERS_KEY, orderProducts);
  }

  /* What the log taught about each product: its card's info (reveals only carry it). */
  function learn(state) {
    var card = state.layers && state.layers.product_card;
    if (!card || card.kind !== "product" || !card.product) return;
    if (JSON.stringify(catalog[card.product.id]) === JSON.stringify(card.product)) return;
    catalog[card.product.id] = card.product;
    store(CATALOG_KEY, catalog);
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
    function (ev) { received = SS.fold(received, ev); learn(received); pending.push(ev); tick(); },
    function () { join(); },
    function (snapshot) { received = snapshot; displayed = snapshot; pending = []; learn(snapshot); render(); renderFigures(); }
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
    renderBag();
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
      var id = overlay ? overlay.id : "";
      /* redraw only what changed, so a button keeps its state (and a pending confirmation) */
      if (el.dataset.overlayId === id && el.dataset.drawn === JSON.stringify(overlay)) return;
      el.hidden = !overlay;
      el.dataset.overlayId = id;
      el.dataset.drawn = JSON.stringify(overlay);
      el.replaceChildren();
      if (overlay) draw(el, overlay);
    });
    document.getElementById("player").dataset.fullscreen = displayed.layers.fullscreen ? "up" : "";
    acknowledgeProduct(displayed.layers.product_card);
    dropStaleOffer();
    renderStartsAt();
    renderCountdown();
    renderBuy();
    renderBag();
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
      info.append(node("p", "product-price", formatMoney(p.price_minor)));
      var button = buyButton("buy-button", p.id);
      info.append(node("p", "product-stock", ""), button);
      card.append(pic, info);
      el.append(card);
    }
  }

  function buyButton(cls, productId) {
    var button = node("button", cls);
    button.type = "button";
    button.dataset.buy = "1";
    button.dataset.productId = productId;
    button.addEventListener("click", function () { tapBuy(productId, button); });
    return button;
  }

  /* An amount for the page's language. In a right-to-left page it is isolated (FSI ... PDI), and
     so is its currency symbol (LRI ... PDI), so "CN¥" and the digits keep their order inside
     Arabic text instead of reading "¥CN". */
  function formatMoney(minor) {
    var value = minor / Math.pow(10, show.currency_exponent);
    if (!rtl) return money.format(value);
    return "\u2068" + money.formatToParts(value).map(function (part) {
      return part.type === "currency" ? "\u2066" + part.value + "\u2069" : part.value;
    }).join("") + "\u2069";
  }

  /* The price a tap on this product would pay: its open sale's, else its card's. */
  function priceOf(productId) {
    var sale = displayed.sales[productId];
    if (sale && typeof sale.price_minor === "number") return sale.price_minor;
    return catalog[productId] ? catalog[productId].price_minor : 0;
  }

  /* What a Buy button for this product says now: the sale as the picture shows it, the server's
     clock for its window, what the last tap answered, and a pending confirmation. */
  function buyState(productId) {
    var sale = displayed.sales[productId], now = serverNow(), state;
    if (!sale || now < sale.opens_at_ms) state = "soon";
    else if (sale.status !== "open" || (sale.closes_at_ms !== null && now >= sale.closes_at_ms)) state = "ended";
    else if (figureOf(sale).sold_out) state = "sold_out";
    else state = saleUi[sale.sale_id] || "buy";
    if (!linkUp && state !== "ended") state = "offline";
    return state;
  }

  /* The Buy buttons (the card's and the bag's) follow buyState. The server decides every tap
     whatever a button shows. */
  function renderBuy() {
    if (confirming && serverNow() >= confirming.until) confirming = null;
    document.querySelectorAll("[data-buy]").forEach(function (button) {
      if (button.dataset.busy) return;
      var state = buyState(button.dataset.productId);
      if (state === "buy" && confirming && confirming.button === button) state = "confirm";
      if (button.dataset.state === state && button.textContent) return;
      button.dataset.state = state;
      button.disabled = state !== "buy" && state !== "confirm";
      button.textContent = state === "offline" ? R : state === "confirm"
        ? fill(T.confirm, { amount: formatMoney(priceOf(button.dataset.productId)) }) : T[state];
    });
  }

  function figureOf(sale) {
    var f = figures && figures.products[sale.product_id];
    return f && f.sale_id === sale.sale_id ? f : {};
  }

  function renderFigures() {
    var gmv = document.getElementById("gmv");
    if (!figures) return;
    gmv.hidden = false;
    gmv.textContent = T.gmv + " " + formatMoney(figures.gmv_minor);
    var stock = document.querySelector(".product-stock");
    var button = document.querySelector(".buy-button");
    if (stock && button) {
      var sale = displayed.sales[button.dataset.productId];
      var f = sale ? figureOf(sale) : {};
      stock.textContent = f.left === undefined ? "" : (f.sold_out ? T.sold_out : counting.format(f.left) + " " + T.left);
    }
    var bought = Object.keys(figures.just_bought || {});
    if (bought.length) {
      var feed = document.getElementById("feed");
      var count = bought.reduce(function (n, pid) { return n + figures.just_bought[pid]; }, 0);
      feed.textContent = counting.format(count) + " " + T.just_bought;
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

  /* A refusal's text in the page's language; the server's own message only as a last resort. */
  function refusal(error) {
    var code = error && error.code ? error.code : "error";
    if (code === "offline" || code === "no_answer") return R;
    if (code === "store_unavailable" || code === "starting") code = "busy";
    return E[code] || (error && error.message) || E.error;
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return "tap-" + crypto.randomUUID();
    return "tap-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  function tapBuy(productId, button) {
    var sale = displayed.sales[productId];
    if (!sale || !socket) return;
    if (priceOf(productId) >= CONFIRM_ABOVE_MINOR && button.dataset.state !== "confirm") {
      confirming = { product_id: productId, button: button, until: serverNow() + CONFIRM_MS };
      renderBuy();
      return;
    }
    confirming = null;
    hideOffer();
    var key = newKey();
    button.dataset.busy = "1";
    button.disabled = true;
    link.sendRetrying("buy", { show_id: show.id, product_id: productId, quantity: 1, key: key }, function (ack) {
      delete button.dataset.busy;
      if (ack && ack.ok) {
        wallet.balance_minor = ack.data.balance_minor;
        wallet.orders.push(ack.data.order);
        rememberOrder(ack.data.order.order_id, productId);
        toast(T.bought + " −" + formatMoney(ack.data.order.amount_minor), false);
      } else {
        var error = ack && ack.error ? ack.error : { code: "error" };
        if (error.code === "sold_out") saleUi[sale.sale_id] = "sold_out";
        if (error.code === "limit_reached") saleUi[sale.sale_id] = "limit";
        toast(refusal(error), true);
        if (error.code === "insufficient_funds" && config.payment_provider) offerProvider(productId);
      }
      button.dataset.state = "";
      /* a tap in the bag closes it, so its answer (and any pay offer) is seen */
      if (button.classList.contains("bag-buy")) toggleBag(false);
      renderWallet();
      renderBuy();
    });
  }

  function hideOffer() {
    var el = document.getElementById("pay-offer");
    offer = null;
    el.replaceChildren();
    el.hidden = true;
  }

  /* The offer is for one product, made under one card: it goes when another card goes up, the
     card is cleared, or the product's sale is no longer open (a held order stays in My orders). */
  function dropStaleOffer() {
    if (!offer) return;
    var card = displayed.layers.product_card ? displayed.layers.product_card.id : null;
    var sale = displayed.sales[offer.product_id];
    if (card !== offer.card || !sale || sale.status !== "open") hideOffer();
  }

  /* Not enough in the wallet: offer the payment provider, for that product only. A new tap (new
     key: a key names one payload) holds the units for the sale's hold time; the provider's page
     opens in a new tab (opened in the click, so no popup blocker stops it) and the wallet is
     reloaded until the order is no longer held. */
  function offerProvider(productId) {
    var el = document.getElementById("pay-offer");
    var card = displayed.layers.product_card ? displayed.layers.product_card.id : null;
    var mine = { product_id: productId, card: card };
    var button = node("button", "pay-provider", T.pay_provider);
    button.type = "button";
    button.dataset.productId = productId;
    button.addEventListener("click", function () {
      if (offer !== mine) return;   /* a stale offer never acts */
      if (!link.connected()) { toast(R, true); return; }   /* refused now, never sent later */
      var tab = window.open("", "_blank");
      button.disabled = true;
      link.send("buy", { show_id: show.id, product_id: productId, quantity: 1, key: newKey(), payment: "provider" }, function (ack) {
        if (!ack || !ack.ok || !ack.data.payment) {
          if (tab) tab.close();
          if (offer === mine) hideOffer();
          toast(refusal(ack && ack.error), true);
          return;
        }
        var order = ack.data.order, payment = ack.data.payment;
        wallet.orders.push(order);
        rememberOrder(order.order_id, productId);
        renderWallet();
        if (tab) tab.location.href = new URL(payment.pay_url, location.href).href;
        watchOrder(order.order_id, payment.expires_at_ms);
        if (offer !== mine) return;
        var until = new Date(payment.expires_at_ms - clockOffsetMs).toLocaleTimeString(locale);
        var pay = node("a", "pay-link", T.pay + " " + formatMoney(payment.amount_minor));
        pay.href = payment.pay_url; pay.target = "_blank"; pay.rel = "noopener";
        el.replaceChildren(node("span", "pay-held", T.held + " " + until), pay);
      });
    });
    offer = mine;
    el.dataset.productId = productId;
    el.replaceChildren(button);
    el.hidden = false;
  }

  function watchOrder(orderId, expiresAtMs) {
    var timer = setInterval(function () {
      link.send("wallet", { show_id: show.id }, function (ack) {
        if (!ack.ok) return;
        wallet = ack.data; renderWallet();
        var order = wallet.orders.filter(function (o) { return o.order_id === orderId; })[0];
        if (!order || order.state !== "held" || serverNow() > expiresAtMs + 5000) {
          clearInterval(timer);
          if (offer && orderProducts[orderId] && orderProducts[orderId].id === offer.product_id) hideOffer();
          if (order && order.state === "paid") toast(T.bought + " −" + formatMoney(order.amount_minor), false);
        }
      });
    }, 2000);
  }

  /* The bag: every product whose sale is open on the picture, with its price and a Buy button,
     so a product whose card was cleared can still be bought while its sale lasts. */
  function openProducts() {
    var now = serverNow();
    return Object.keys(displayed.sales).filter(function (pid) {
      var sale = displayed.sales[pid];
      return sale.status === "open" && now >= sale.opens_at_ms && (sale.closes_at_ms === null || now < sale.closes_at_ms);
    }).sort();
  }

  function renderBag() {
    var products = openProducts(), key = products.join(",");
    var list = document.getElementById("bag-list");
    if (list.dataset.products === key) return;
    var bagButton = document.getElementById("bag-button");
    bagButton.hidden = products.length === 0;
    document.getElementById("bag-count").textContent = counting.format(products.length);
    bagButton.title = T.bag;
    bagButton.setAttribute("aria-label", T.bag + " (" + products.length + ")");
    document.getElementById("bag-empty").hidden = products.length > 0;
    list.dataset.products = key;
    list.replaceChildren();
    products.forEach(function (pid) {
      var p = catalog[pid] || {}, item = node("li", "bag-item");
      item.dataset.productId = pid;
      if (p.image) { var pic = node("img"); pic.src = p.image; pic.alt = ""; item.append(pic); }
      var info = node("div", "bag-info");
      info.append(node("p", "bag-name", p.name ? text(p.name) : pid), node("p", "bag-price", formatMoney(priceOf(pid))));
      item.append(info, buyButton("bag-buy", pid));
      list.append(item);
    });
    renderBuy();
  }

  function toggleBag(open) {
    var bag = document.getElementById("bag");
    bag.hidden = !open;
    document.getElementById("bag-button").setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { renderBag(); document.getElementById("orders").hidden = true; }
  }

  /* Pre-show: the start time, when the show's info gives one (`starts_at_ms`, or the first time
     of its `window` in its time zone), in the viewer's own clock and language. */
  function startTimeMs() {
    if (typeof show.starts_at_ms === "number") return show.starts_at_ms;
    if (!show.window || !show.window[0]) return null;
    var hm = show.window[0].split(":"), now = serverNow();
    var parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: show.timezone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" })
      .formatToParts(new Date(now)).forEach(function (p) { parts[p.type] = +p.value; });
    var zoneNowAsUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute);
    var offsetMs = zoneNowAsUtc - Math.floor(now / 60000) * 60000;
    var at = Date.UTC(parts.year, parts.month - 1, parts.day, +hm[0], +hm[1]) - offsetMs;
    return at < now - 3600000 ? at + 86400000 : at;
  }

  function renderStartsAt() {
    var el = document.getElementById("starts-at");
    var at = displayed.show.phase === "pre_show" ? startTimeMs() : null;
    el.hidden = at === null;
    if (at !== null) {
      el.textContent = fill(T.starts, { time: new Date(at - clockOffsetMs).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" }) });
    }
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
    var full = T.wallet + " " + formatMoney(wallet.balance_minor) + " · " + T.orders + " (" + counting.format(wallet.orders.length) + ")";
    el.setAttribute("aria-label", full);
    el.title = full;
    var amount = node("span", "w-part", formatMoney(wallet.balance_minor));
    var orders = node("span", "w-orders", "(" + wallet.orders.length + ")");
    el.replaceChildren(amount, orders);
    var list = document.getElementById("orders");
    list.replaceChildren();
    wallet.orders.forEach(function (o) {
      var known = orderProducts[o.order_id], pid = o.product_id || (known && known.id);
      var p = pid && catalog[pid];
      var name = p ? p.name : known && known.name;
      var item = node("li", "");
      item.dataset.state = o.state;
      if (name) item.append(node("span", "o-name", text(name) + " · "));
      item.append(node("span", "o-amount", counting.format(o.quantity) + " × " + formatMoney(o.amount_minor / o.quantity) + " · "),
        node("span", "o-state", T["state_" + o.state] || o.state));
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
  var dropHead = document.getElementById("drop-head");
  var dropName = document.getElementById("drop-name");

  /* A drop's name for viewers: a localized name if its announcement carries one; a show file's
     `name` is an id for the console (docs/shows.md), so the page says "Red envelopes" in the
     viewer's language, with the sponsor's name when a sponsor funds it and its card was seen. */
  function dropLabel(d) {
    if (d.name && typeof d.name === "object") return text(d.name);
    var sponsor = null;
    Object.keys(catalog).forEach(function (pid) {
      var s = catalog[pid].sponsor;
      if (s && s.id === d.funder) sponsor = s.name;
    });
    return sponsor ? fill(D.from, { name: D.name, sponsor: sponsor }) : D.name;
  }

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
      if (!dropHead.hidden) { dropHead.hidden = true; dropHead.dataset.state = "off"; }
      return;
    }
    var ui = uiOf(shown.drop_id), f = dropFigures[shown.drop_id];
    if (stage !== "result") ui.seen = true;
    dropEl.hidden = false;
    dropHead.hidden = false;
    if (dropEl.dataset.state !== stage) { dropEl.dataset.state = stage; dropHead.dataset.state = stage; }
    dropHead.dataset.dropId = shown.drop_id;
    setText(dropName, dropLabel(shown));
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
    link.sendRetrying("grab", { show_id: show.id, drop_id: d.drop_id }, function (ack) {
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
    this.setAttribute("aria-expanded", list.hidden ? "false" : "true");
    if (!list.hidden) toggleBag(false);
  });
  document.getElementById("bag-button").addEventListener("click", function () {
    toggleBag(document.getElementById("bag").hidden);
  });
  document.getElementById("bag-close").addEventListener("click", function () { toggleBag(false); });
  document.getElementById("bag-close").setAttribute("aria-label", T.close);
  document.getElementById("bag-title").textContent = T.bag;
  document.getElementById("bag-empty").textContent = T.bag_empty;
  window.galaViewer = { state: function () { return { received: received, displayed: displayed, offset_ms: clockOffsetMs }; } };
  startStream();
  setInterval(tick, 100);
  setInterval(function () { if (socket && socket.connected) syncClock(1); }, 30000);
  (localStorage.getItem(TOKEN_KEY) ? Promise.resolve() : refreshToken()).then(connect);
})();
