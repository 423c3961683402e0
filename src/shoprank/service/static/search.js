(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var K = 24;
  var MAX_RECORD_MS = 8000;
  var SWATCH = { black:"#1f2226", white:"#ffffff", gray:"#8b8f96", red:"#d0242f", blue:"#2a5cc8", green:"#2f9a4a",
    yellow:"#f3c623", orange:"#f3821e", purple:"#8b3fd0", pink:"#ef87b4", brown:"#8a5a2b", beige:"#e6d6b8",
    silver:"linear-gradient(135deg,#eceff3,#a9afb8)", gold:"linear-gradient(135deg,#f6d365,#c9971c)", lavender:"#b8a6e8" };

  // One id per visit (tab): ties a shopper's searches and events together in analytics.
  var SESSION = (function () {
    var id = null;
    try { id = sessionStorage.getItem("shoprank.session"); } catch (e) { /* private mode */ }
    if (!id) {
      var a = new Uint8Array(12); crypto.getRandomValues(a);
      id = "s-" + Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      try { sessionStorage.setItem("shoprank.session", id); } catch (e) { /* private mode */ }
    }
    return id;
  })();
  var state = {
    colors: [],          // facet filter (any of)
    ratingMin: null,     // facet filter
    lastBody: null,      // the last search request, re-run after an event
    rewrites: [],        // how the last search read its query (typo, synonym, ...): "why this result" lists them
    lastView: "none",    // "search" | "similar" | "none"
    lastSearch: null,    // { id, products } of the results page shown: events name it (analytics)
    lastFile: null,
    searchSeq: 0,
    categories: {},      // path -> count
    cart: 0
  };
  var previewUrl = null;

  // ---------------------------------------------------------------- helpers
  function esc(v) {
    if (v === null || v === undefined) return "";
    return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function num(v) { return typeof v === "number" && isFinite(v); }
  function fmtPrice(p, cur) {
    if (!num(p)) return "Price n/a";
    try { return new Intl.NumberFormat("en-US", { style: "currency", currency: cur || "USD" }).format(p); }
    catch (e) { return (cur ? cur + " " : "") + p.toFixed(2); }
  }
  function fmtNum(n) { return num(n) ? (Math.round(n * 100) / 100).toString() : ""; }
  function starsHtml(r, count) {
    if (!num(r)) return '<span class="rating">No ratings yet</span>';
    var w = Math.max(0, Math.min(100, r / 5 * 100)).toFixed(0);
    return '<span class="rating"><span class="stars" style="--w:' + w + '%" aria-label="' + esc(r.toFixed(1)) +
      ' out of 5">★★★★★</span><span>' + esc(r.toFixed(1)) + "</span>" +
      (num(count) ? "<span>(" + esc(count.toLocaleString("en-US")) + ")</span>" : "") + "</span>";
  }
  function swatch(color) {
    var bg = SWATCH[color] || color;
    return '<span class="swatch" style="background:' + esc(bg) + '"></span>';
  }
  function chip(text, cls, extra) { return '<span class="chip' + (cls ? " " + cls : "") + '">' + (extra || "") + esc(text) + "</span>"; }
  function catLabel(path) { return String(path || "").split("/").join(" › "); }
  function icon(name) { return '<svg class="i"><use href="#i-' + name + '"/></svg>'; }

  var toastTimer = null;
  function toast(msg) {
    var t = $("toast"); t.textContent = msg; t.hidden = false;
    clearTimeout(toastTimer); toastTimer = setTimeout(function () { t.hidden = true; }, 2600);
  }
  function setStatus(html, isError) {
    var s = $("status");
    s.classList.toggle("error", !!isError);
    s.setAttribute("role", isError ? "alert" : "status");
    if (isError) s.textContent = html; else s.innerHTML = html;
  }
  function showError(msg) { setStatus(msg, true); }

  async function api(url, opts) {
    var res;
    try { res = await fetch(url, opts); }
    catch (e) { throw new Error("Network error: " + e.message); }
    var data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      var d = data && data.detail, msg;
      if (typeof d === "string") msg = d;
      else if (Array.isArray(d)) msg = d.map(function (x) { return (x && x.msg) ? (x.loc ? x.loc.join(".") + ": " : "") + x.msg : JSON.stringify(x); }).join("; ");
      else msg = d ? JSON.stringify(d) : ("The server answered " + res.status + " " + res.statusText);
      var err = new Error(msg); err.status = res.status; throw err;
    }
    return data || {};
  }

  // ---------------------------------------------------------------- shopper
  function currentUser() {
    var v = $("user").value;
    if (v === "__other__") v = $("user-other").value.trim();
    return v || null;
  }
  function onUserChange() {
    var other = $("user").value === "__other__";
    $("user-other").hidden = !other;
    if (other && !$("user-other").value.trim()) { $("user-other").focus(); }
    try { localStorage.setItem("shoprank.user", currentUser() || ""); } catch (e) { /* private mode */ }
    loadProfile();
    if (state.lastView === "search") rerun();
    else renderPersonalized(null);
  }

  async function postEvent(type, productId) {
    var user = currentUser();
    if (!user) return false;
    var q = state.lastBody && state.lastBody.q ? state.lastBody.q : ($("q").value.trim() || null);
    var ev = { user_id: user, session_id: SESSION, product_id: productId, type: type, query: q };
    var shown = state.lastView === "search" ? state.lastSearch : null;
    if (shown && shown.id) {  // which results page, and where on it: for click-through analytics
      ev.search_id = shown.id;
      var at = shown.products.indexOf(productId);
      if (at >= 0) ev.position = at + 1;
    }
    try {
      await api("events", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ events: [ev] }) });
    } catch (e) { showError("Could not record the " + type + ": " + e.message); return false; }
    loadProfile();
    if (state.lastView === "search") rerun();
    return true;
  }

  async function loadProfile() {
    var user = currentUser(), box = $("profile");
    if (!user) { box.hidden = true; box.innerHTML = ""; return; }
    box.hidden = false;
    var p;
    try { p = await api("users/" + encodeURIComponent(user) + "/profile?top=3"); }
    catch (e) { box.innerHTML = "<h3>Shopper</h3><div class='empty-note'>Profile unavailable: " + esc(e.message) + "</div>"; return; }
    if (user !== currentUser()) return;
    var html = '<h3>Shopper profile</h3><div class="who"><span class="avatar">' + esc(user.slice(0, 1)) + "</span><div><b>" +
      esc(user) + '</b><div class="n" id="profile-events">' + esc(p.n_events || 0) + " event" + (p.n_events === 1 ? "" : "s") + "</div></div></div>";
    var aff = p.affinities || {}, fams = Object.keys(aff);
    if (!fams.length) html += '<div class="empty-note">No history yet: click or add products to the cart to teach the ranking.</div>';
    fams.slice(0, 4).forEach(function (fam) {
      var vals = aff[fam] || {};
      html += '<div class="aff-fam">' + esc(fam) + "</div>";
      Object.keys(vals).slice(0, 3).forEach(function (v) {
        var share = vals[v] || 0;
        html += '<div class="aff"><span class="v" title="' + esc(v) + '">' + (fam === "color" ? swatch(v) + " " : "") + esc(fam === "category" ? catLabel(v) : v) +
          '</span><span class="t"><span style="width:' + (share * 100).toFixed(0) + '%"></span></span><span class="p">' + (share * 100).toFixed(0) + "%</span></div>";
      });
    });
    html += '<div id="foryou-box"></div><button type="button" id="forget" data-testid="forget">Forget me</button>';
    box.innerHTML = html;
    if (p.n_events) {
      try {
        var recs = await api("users/" + encodeURIComponent(user) + "/recommendations?k=4");
        var list = Array.isArray(recs.results) ? recs.results : [];
        if (list.length && $("foryou-box")) {
          $("foryou-box").innerHTML = '<div class="aff-fam">For you</div><div class="foryou">' + list.map(function (r) {
            return '<button type="button" data-open="' + esc(r.id) + '" title="' + esc(r.title) + '">' +
              (r.image_url ? '<img src="' + esc(r.image_url) + '" alt="' + esc(r.title) + '">' : esc(r.title)) + "</button>";
          }).join("") + "</div>";
        }
      } catch (e) { /* recommendations are optional */ }
    }
  }

  async function forgetMe() {
    var user = currentUser();
    if (!user) return;
    try {
      var r = await api("users/" + encodeURIComponent(user), { method: "DELETE" });
      toast("Forgot " + user + ": " + (r.events_deleted || 0) + " events deleted");
    } catch (e) { showError("Could not forget " + user + ": " + e.message); return; }
    loadProfile();
    if (state.lastView === "search") rerun();
  }

  function renderPersonalized(data) {
    var el = $("personalized"), user = currentUser();
    el.classList.remove("on");
    if (!user) { el.hidden = true; el.textContent = ""; return; }
    el.hidden = false;
    if (!$("personalize").checked) { el.textContent = "personalization off for " + user; return; }
    if (data && data.personalized) {
      el.classList.add("on");
      el.textContent = "Personalized for " + (data.user_id || user) + " (" + (data.profile_events || 0) + " event" + (data.profile_events === 1 ? "" : "s") + ")";
    } else if (data) {
      el.textContent = user + ": no history yet — standard ranking";
    } else {
      el.textContent = "shopping as " + user;
    }
  }

  // ---------------------------------------------------------------- filters
  function readPrice(id) {
    var v = $(id).value.trim();
    if (v === "") return null;
    var f = parseFloat(v);
    return isFinite(f) && f >= 0 ? f : null;
  }
  function ensureCategoryOption(path) {
    var sel = $("category");
    if (!path || Array.prototype.some.call(sel.options, function (o) { return o.value === path; })) return;
    var o = document.createElement("option"); o.value = path; o.textContent = catLabel(path); sel.appendChild(o);
  }
  function renderActiveFilters() {
    var chips = [];
    var cat = $("category").value, pmin = readPrice("price_min"), pmax = readPrice("price_max");
    if (cat) chips.push(["category", catLabel(cat), ""]);
    state.colors.forEach(function (c) { chips.push(["color:" + c, c, swatch(c)]); });
    if (pmin !== null || pmax !== null) {
      var label = pmin !== null && pmax !== null ? "$" + fmtNum(pmin) + " – $" + fmtNum(pmax)
        : pmin !== null ? "≥ $" + fmtNum(pmin) : "≤ $" + fmtNum(pmax);
      chips.push(["price", label, ""]);
    }
    if (state.ratingMin !== null) chips.push(["rating", fmtNum(state.ratingMin) + "+ ★", ""]);
    var box = $("active-filters");
    box.hidden = !chips.length;
    box.innerHTML = chips.length ? '<span class="lbl">Filters:</span>' + chips.map(function (c) {
      return '<span class="fchip" data-filter="' + esc(c[0]) + '">' + c[2] + esc(c[1]) +
        '<button type="button" aria-label="Remove filter ' + esc(c[1]) + '" data-remove="' + esc(c[0]) + '">×</button></span>';
    }).join("") + '<button type="button" class="linkbtn" id="clear-filters">Clear all</button>' : "";
  }
  function removeFilter(key) {
    if (key === "category") $("category").value = "";
    else if (key === "price") { $("price_min").value = ""; $("price_max").value = ""; }
    else if (key === "rating") state.ratingMin = null;
    else if (key.indexOf("color:") === 0) { var c = key.slice(6); state.colors = state.colors.filter(function (x) { return x !== c; }); }
    else if (key === "all") { $("category").value = ""; $("price_min").value = ""; $("price_max").value = ""; state.ratingMin = null; state.colors = []; }
    renderActiveFilters();
    doSearch();
  }
  function applyFacet(facet, value, min, max) {
    if (facet === "category") {
      ensureCategoryOption(value);
      $("category").value = $("category").value === value ? "" : value;
    } else if (facet === "color") {
      var i = state.colors.indexOf(value);
      if (i >= 0) state.colors.splice(i, 1); else state.colors.push(value);
    } else if (facet === "price") {
      var lo = min === "" ? null : parseFloat(min), hi = max === "" ? null : parseFloat(max);
      if (readPrice("price_min") === lo && readPrice("price_max") === hi) { lo = null; hi = null; }
      $("price_min").value = lo === null ? "" : String(lo);
      $("price_max").value = hi === null ? "" : String(hi);
    } else if (facet === "rating") {
      var r = parseFloat(min);
      state.ratingMin = state.ratingMin === r ? null : r;
    }
    renderActiveFilters();
    doSearch();
  }

  // Narrow screens: the filters panel folds behind a toggle; its label counts the filters in force.
  function setFilterCount(n) { $("filters-count").textContent = n ? " (" + n + ")" : ""; }
  function toggleFilters() {
    var open = !document.body.classList.contains("filters-open");
    document.body.classList.toggle("filters-open", open);
    $("filters-toggle").setAttribute("aria-expanded", String(open));
  }

  function renderFacets(facets, matches) {
    facets = facets && typeof facets === "object" ? facets : {};
    var cat = $("category").value, pmin = readPrice("price_min"), pmax = readPrice("price_max");
    var sections = [
      ["category", "Category"], ["color", "Colour"], ["price", "Price"], ["rating", "Rating"]
    ];
    var html = "<h3>Filters" + (cat || state.colors.length || pmin !== null || pmax !== null || state.ratingMin !== null
      ? '<button type="button" class="linkbtn" data-remove="all">clear</button>' : "") + "</h3>";
    var any = false;
    sections.forEach(function (s) {
      var name = s[0], values = Array.isArray(facets[name]) ? facets[name].slice() : [];
      // keep active values visible even when the filtered result set no longer counts them
      if (name === "color") state.colors.forEach(function (c) { if (!values.some(function (v) { return v.value === c; })) values.push({ value: c, count: null }); });
      if (name === "category" && cat && !values.some(function (v) { return v.value === cat; })) values.unshift({ value: cat, count: null });
      if (!values.length) return;
      any = true;
      html += '<div class="facet" data-facet-group="' + name + '"><h3>' + s[1] + "</h3>";
      values.slice(0, name === "category" ? 10 : 14).forEach(function (v) {
        var active = false, label = "", lead = "";
        if (name === "category") { active = v.value === cat; label = catLabel(v.value); }
        else if (name === "color") { active = state.colors.indexOf(v.value) >= 0; label = v.value; lead = '<span class="check">' + (active ? "✓" : "") + "</span>" + swatch(v.value); }
        else if (name === "price") {
          active = pmin === (num(v.min) ? v.min : null) && pmax === (num(v.max) ? v.max : null);
          label = num(v.max) ? "$" + fmtNum(v.min) + " – $" + fmtNum(v.max) : "$" + fmtNum(v.min) + " and up";
        } else if (name === "rating") {
          active = state.ratingMin === v.min;
          label = '<span class="fstars">' + "★".repeat(Math.round(v.min || 0)) + "</span> " + esc(v.value) ;
        }
        html += '<button type="button" class="facet-value' + (active ? " active" : "") + '" data-testid="facet-value" data-facet="' + name +
          '" data-value="' + esc(v.value) + '" data-min="' + (num(v.min) ? v.min : "") + '" data-max="' + (num(v.max) ? v.max : "") +
          '" aria-pressed="' + active + '">' + lead + '<span class="fv">' + (name === "rating" ? label : esc(label)) + "</span>" +
          '<span class="cnt">' + (num(v.count) ? v.count : "") + "</span></button>";
      });
      html += "</div>";
    });
    if (!any) html += '<div class="empty-note">No filters for these results.</div>';
    else if (num(matches)) html += '<div class="facet-note" data-testid="facet-note">Counts over the ' + esc(matches) + " matching product" + (matches === 1 ? "" : "s") + ".</div>";
    $("facets").innerHTML = html;
    setFilterCount((cat ? 1 : 0) + state.colors.length + (pmin !== null || pmax !== null ? 1 : 0) + (state.ratingMin !== null ? 1 : 0));
  }

  // ---------------------------------------------------------------- results
  var MODALITY_LABELS = { text: "text", image: "photo", label: "photo labels", review: "reviews", color: "colour" };

  function explainHtml(r) {
    var ex = r.explanation && typeof r.explanation === "object" ? r.explanation : {};
    var items = Object.keys(ex).filter(function (k) { return num(ex[k]); })
      .map(function (k) { return [k, ex[k]]; })
      .sort(function (a, b) { return Math.abs(b[1]) - Math.abs(a[1]); });
    var max = items.reduce(function (m, it) { return Math.max(m, Math.abs(it[1])); }, 0) || 1;
    var html = "";
    var bar = function (it) {
      var w = (Math.abs(it[1]) / max * 100).toFixed(1);
      return '<span class="bar-name" title="' + esc(it[0]) + '">' + esc(it[0]) + "</span>" +
        '<span class="bar-track"><span class="bar' + (it[1] < 0 ? " neg" : "") + '" style="width:' + w + '%"></span></span>' +
        '<span class="bar-val">' + (it[1] > 0 ? "+" : "") + esc(it[1].toFixed(3)) + "</span>";
    };
    var TOP = 8;
    if (items.length) {
      html += '<div class="bars">' + items.slice(0, TOP).map(bar).join("") + "</div>";
      if (items.length > TOP) {
        html += '<details class="more"><summary>' + (items.length - TOP) + " more feature" + (items.length - TOP === 1 ? "" : "s") +
          '</summary><div class="bars">' + items.slice(TOP).map(bar).join("") + "</div></details>";
      }
    } else {
      html += '<div class="retr">No feature breakdown available.</div>';
    }
    // The attention ranker's weight per modality for this result ("photo 0.52 · text 0.31").
    var mw = r.modality_weights && typeof r.modality_weights === "object" ? r.modality_weights : {};
    var mods = Object.keys(mw).filter(function (k) { return num(mw[k]); }).sort(function (a, b) { return mw[b] - mw[a]; });
    if (mods.length) {
      html += '<div class="retr" data-testid="modality-weights">Modalities: ' + mods.map(function (k) {
        return chip((MODALITY_LABELS[k] || k) + " " + mw[k].toFixed(2));
      }).join("") + "</div>";
    }
    if (state.rewrites.length) {
      html += '<div class="retr" data-testid="rewrites">Query read as: ' + state.rewrites.map(function (w) {
        return chip(w.origin + ": " + w.text + (w.replaces ? "" : " ×" + Number(w.weight).toFixed(2)), "", "");
      }).join("") + "</div>";
    }
    var rt = r.retrievers && typeof r.retrievers === "object" ? r.retrievers : {};
    var names = Object.keys(rt).sort(function (a, b) { return rt[a] - rt[b]; });
    html += '<div class="retr">Found by: ' + (names.length ? names.map(function (n) { return chip(n + " #" + rt[n]); }).join("") : "—") + "</div>";
    if (num(r.score)) html += '<div class="score">score ' + esc(r.score.toFixed(3)) + "</div>";
    return html;
  }

  function hasWhy(r) {
    return (r.explanation && Object.keys(r.explanation).length > 0) || (r.retrievers && Object.keys(r.retrievers).length > 0);
  }

  function stockHtml(r) {
    if (r.in_stock === false) return '<div class="stock out" data-testid="stock">Out of stock</div>';
    if (num(r.stock) && r.stock > 0 && r.stock <= 5) return '<div class="stock low" data-testid="stock">Only ' + r.stock + " left</div>";
    return "";
  }

  function cardHtml(r) {
    var title = r.title || r.id;
    var img = r.image_url
      ? '<button type="button" class="img" data-open="' + esc(r.id) + '" aria-label="Open ' + esc(title) + '"><img src="' + esc(r.image_url) + '" alt="' + esc(title) + '"></button>'
      : '<div class="img none">No image</div>';
    return '<article class="result-card' + (r.in_stock === false ? " sold-out" : "") + '" data-testid="result-card" data-id="' + esc(r.id) + '" data-price="' + (num(r.price) ? r.price : "") + '">' + img +
      '<div class="body">' +
      '<button type="button" class="title" data-open="' + esc(r.id) + '" title="' + esc(title) + '">' + esc(title) + "</button>" +
      '<div class="price">' + esc(fmtPrice(r.price, r.currency)) + "</div>" + stockHtml(r) +
      starsHtml(r.rating, r.review_count) +
      (r.category ? '<div class="cat" title="' + esc(r.category) + '">' + esc(catLabel(r.category)) + "</div>" : "") +
      (hasWhy(r) ? '<details class="why"><summary>Why this result</summary>' + explainHtml(r) + "</details>" : "") +
      '<div class="actions"><button type="button" class="btn-similar" data-similar="' + esc(r.id) + '" data-title="' + esc(title) + '">Similar</button>' +
      '<button type="button" class="btn-cart" data-cart="' + esc(r.id) + '">Add to cart</button></div>' +
      "</div></article>";
  }

  // A result the server marks as not matching the query (match: false) only fills the page.
  function isMatch(r) { return r.match !== false; }

  function renderResults(results, emptyMsg) {
    var list = Array.isArray(results) ? results : [];
    var openIds = {};
    Array.prototype.forEach.call($("results").querySelectorAll(".result-card details.why[open]"), function (d) {
      openIds[d.closest(".result-card").getAttribute("data-id")] = true;
    });
    var matches = list.filter(isMatch), more = list.filter(function (r) { return !isMatch(r); });
    var html = matches.map(cardHtml).join("");
    if (!matches.length) html += '<div class="hero"><h2>No products found</h2><div>' + esc(emptyMsg || "Try a different query or remove a filter.") + "</div></div>";
    if (more.length) {
      html += '<div class="more-divider" data-testid="more-products"><h3>More products</h3><span>not matching your search</span></div>' +
        more.map(cardHtml).join("");
    }
    $("results").innerHTML = html;
    Array.prototype.forEach.call($("results").querySelectorAll(".result-card"), function (card) {
      var why = card.querySelector("details.why");
      if (why && openIds[card.getAttribute("data-id")]) why.open = true;
      var im = card.querySelector(".img img");
      if (im) im.addEventListener("error", function () {
        var box = im.parentNode; box.classList.add("none"); box.textContent = "No image";
      }, { once: true });
    });
  }

  function renderUnderstood(data) {
    var p = data.parsed || {}, chips = [];
    (p.types || []).forEach(function (t) { chips.push(chip(t, "u-type")); });
    (p.colors || []).forEach(function (c) { chips.push(chip(c, "u-color", '<span class="sw" style="background:' + esc(SWATCH[c] || c) + '"></span>')); });
    (p.sizes || []).forEach(function (s) { chips.push(chip("size " + s, "u-size")); });
    if (p.gender) chips.push(chip(p.gender, "u-gender"));
    if (num(p.price_min)) chips.push(chip("from $" + fmtNum(p.price_min), "u-price"));
    if (num(p.price_max)) chips.push(chip("under $" + fmtNum(p.price_max), "u-price"));
    if (p.price_note) chips.push(chip(p.price_note, "u-note"));
    var labels = Array.isArray(data.photo_labels) ? data.photo_labels : [];
    labels.slice(0, 3).forEach(function (l) {
      var pct = Array.isArray(l) && num(l[1]) ? " " + Math.round(l[1] * 100) + "%" : "";
      chips.push(chip("photo: " + (Array.isArray(l) ? l[0] : l) + pct, "photo"));
    });
    $("understood").innerHTML = didYouMeanHtml(data) + (chips.length ? '<span class="lbl">Understood:</span>' + chips.join("") : "");
    var t = $("transcript");
    if (data.transcript && data.transcript.understood === false) {
      t.hidden = false;  // not searched: the recognizer was unsure (or it was not English)
      t.innerHTML = icon("mic") + "Sorry, we didn't catch that. Try again, in English, or type your search.";
      t.title = data.transcript.reason || "";
    } else if (data.transcript && data.transcript.text) {
      t.hidden = false;
      t.innerHTML = icon("mic") + "heard: “" + esc(data.transcript.text) + "”";
      t.title = data.transcript.backend + ", " + data.transcript.language + ", " + data.transcript.duration_s + " s of audio, transcribed in " + data.transcript.seconds + " s";
    } else { t.hidden = true; t.textContent = ""; }
  }

  // A typo correction: "Showing results for X. Search instead for Y" (searched instead of the typed
  // text), or "Did you mean X?" (searched only beside it). Each link searches that text as typed.
  function didYouMeanHtml(data) {
    if (!data.did_you_mean || !data.query) return "";
    var link = function (text, original) {
      return '<button type="button" class="linkbtn" data-typed="' + (original ? "1" : "") + '" data-q="' + esc(text) + '">' + esc(text) + "</button>";
    };
    var html = data.auto_corrected
      ? "Showing results for <b>" + esc(data.did_you_mean) + "</b>. Search instead for " + link(data.query, true)
      : "Did you mean " + link(data.did_you_mean, false) + "?";
    return '<div class="did-you-mean" data-testid="did-you-mean" style="margin-right:10px">' + html + "</div>";
  }

  // The server's own total: "pipeline" and "total" already contain the stages, so no sum.
  function searchMs(t) {
    if (num(t.total)) return t.total;
    return Object.keys(t).reduce(function (s, k) { return s + (k !== "pipeline" && num(t[k]) ? t[k] : 0); }, 0);
  }

  function renderSummary(data) {
    var list = Array.isArray(data.results) ? data.results : [];
    var n = list.filter(isMatch).length, more = list.length - n;
    var t = data.timings_ms && typeof data.timings_ms === "object" ? data.timings_ms : {};
    var total = searchMs(t);
    var what = data.query ? " for “" + esc(data.query) + "”" : (data.photo_labels && data.photo_labels.length ? " for your photo" : "");
    var parts = ["<b>" + n + "</b> result" + (n === 1 ? "" : "s") + what +
      (num(data.matches) && data.matches > n ? " (of " + esc(data.matches) + " matches)" : "")];
    if (more) parts.push(esc(more) + " more product" + (more === 1 ? "" : "s") + " below");
    if (num(data.candidates)) parts.push(esc(data.candidates) + " candidates");
    if (data.fusion) parts.push(esc(data.fusion));
    parts.push('<span data-testid="latency">' + esc(total.toFixed(0)) + " ms</span>");
    setStatus(parts.join(" · "), false);
  }

  function setBusy(b) {
    $("search-btn").disabled = b;
    $("search-btn").textContent = b ? "Searching…" : "Search";
    $("results").classList.toggle("loading", b);
  }

  function buildBody() {
    var q = $("q").value.trim();
    return { q: q || null, k: K, category: $("category").value || null, price_min: readPrice("price_min"),
      price_max: readPrice("price_max"), fusion: $("fusion").value || "rrf", explain: true, sort: $("sort").value || "relevance",
      colors: state.colors.slice(), rating_min: state.ratingMin, user_id: currentUser(), session_id: SESSION,
      personalize: $("personalize").checked, in_stock: $("in-stock").checked, typo_tolerance: true };
  }

  function toForm(body) {
    var fd = new FormData();
    Object.keys(body).forEach(function (k) {
      var v = body[k];
      if (v === null || v === undefined) return;
      if (Array.isArray(v)) { if (v.length) fd.append(k, v.join(",")); return; }
      fd.append(k, String(v));
    });
    return fd;
  }

  // body: request fields; extra: {audio: Blob, audioName} for voice
  async function runSearch(body, extra) {
    extra = extra || {};
    var file = $("photo").files && $("photo").files[0];
    var pmin = body.price_min, pmax = body.price_max;
    if (pmin !== null && pmax !== null && pmin > pmax) { showError("The minimum price is above the maximum."); return; }
    if (!body.q && !file && !extra.audio && !body.category) {
      showError("Type a query, choose a photo, use your voice, or pick a category to browse."); return;
    }
    var opts;
    if (file || extra.audio) {
      var fd = toForm(body);
      if (file) fd.append("image", file, file.name || "photo");
      if (extra.audio) fd.append("audio", extra.audio, extra.audioName || "voice.webm");
      opts = { method: "POST", body: fd };
    } else {
      var json = {};
      Object.keys(body).forEach(function (k) { if (body[k] !== null && !(Array.isArray(body[k]) && !body[k].length)) json[k] = body[k]; });
      opts = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(json) };
    }
    var seq = ++state.searchSeq;
    setBusy(true);
    try {
      var data = await api("search", opts);
      if (seq !== state.searchSeq) return;
      if (extra.audio && data.transcript && data.transcript.text && data.transcript.understood !== false) {
        $("q").value = data.transcript.text;
        body = Object.assign({}, body, { q: data.transcript.text });  // a re-run searches the transcript as text
      }
      state.lastBody = body; state.lastView = "search";
      state.rewrites = Array.isArray(data.rewrites) ? data.rewrites : [];
      state.lastSearch = { id: data.search_id, products: (Array.isArray(data.results) ? data.results : []).map(function (r) { return r.id; }) };
      renderUnderstood(data);
      renderSummary(data);
      renderPersonalized(data);
      renderFacets(data.facets, data.matches);
      renderActiveFilters();
      renderResults(data.results);
      var url = new URL(location.href);
      if (body.q) url.searchParams.set("q", body.q); else url.searchParams.delete("q");
      history.replaceState(null, "", url);
    } catch (e) {
      if (seq !== state.searchSeq) return;
      showError(e.message);
    } finally {
      if (seq === state.searchSeq) setBusy(false);
    }
  }

  function doSearch() { closeSuggestions(); return runSearch(buildBody()); }
  function rerun() {
    if (!state.lastBody) return;
    // same query and filters, with the current shopper and sort
    var b = Object.assign({}, state.lastBody, { user_id: currentUser(), personalize: $("personalize").checked, sort: $("sort").value });
    return runSearch(b);
  }

  // What described the last search (its facets, what was understood) does not describe "similar items".
  function clearSearchContext() {
    $("understood").innerHTML = ""; state.rewrites = [];
    $("transcript").hidden = true; $("transcript").textContent = "";
    $("active-filters").hidden = true;
    $("facets").innerHTML = '<h3>Filters</h3><div class="empty-note">Filters apply to searches.</div>';
    setFilterCount(0);
  }

  async function loadSimilar(id, title) {
    closeDetail();
    var seq = ++state.searchSeq;
    setBusy(true);
    try {
      var data = await api("similar/" + encodeURIComponent(id) + "?k=12");
      if (seq !== state.searchSeq) return;
      var n = Array.isArray(data.results) ? data.results.length : 0;
      state.lastView = "similar"; state.lastSearch = null;
      clearSearchContext();
      setStatus("<h2>Similar to " + esc(title) + "</h2><b>" + n + "</b> item" + (n === 1 ? "" : "s") +
        (state.lastBody ? ' · <button type="button" class="linkbtn" id="back-to-results">← back to results</button>' : ""), false);
      renderResults(data.results, "Nothing similar found.");
      window.scrollTo({ top: 0, behavior: "smooth" });
    } catch (e) { if (seq === state.searchSeq) showError(e.message); }
    finally { if (seq === state.searchSeq) setBusy(false); }
  }

  // ---------------------------------------------------------------- product drawer
  function miniHtml(r) {
    return '<button type="button" class="mini" data-open="' + esc(r.id) + '" title="' + esc(r.title) + '">' +
      (r.image_url ? '<img src="' + esc(r.image_url) + '" alt="">' : "") +
      '<span class="t">' + esc(r.title) + '</span><span class="pr">' + esc(fmtPrice(r.price, r.currency)) + "</span></button>";
  }
  var detailSeq = 0;
  async function openDetail(id) {
    var seq = ++detailSeq, d = $("detail");
    $("detail-backdrop").hidden = false; d.hidden = false;
    d.innerHTML = '<button type="button" class="close" aria-label="Close">×</button><div class="empty-note">Loading…</div>';
    var p;
    try { p = await api("products/" + encodeURIComponent(id)); }
    catch (e) { if (seq === detailSeq) d.innerHTML = '<button type="button" class="close" aria-label="Close">×</button><p>' + esc(e.message) + "</p>"; return; }
    if (seq !== detailSeq) return;
    var imgs = Array.isArray(p.image_urls) ? p.image_urls : [];
    var attrs = p.attributes || {};
    var html = '<button type="button" class="close" aria-label="Close">×</button><div class="gallery">' +
      (imgs.length ? '<img class="main-img" id="detail-img" src="' + esc(imgs[0]) + '" alt="' + esc(p.title) + '">' : "") +
      (imgs.length > 1 ? '<div class="thumbs">' + imgs.map(function (u) { return '<img src="' + esc(u) + '" data-src="' + esc(u) + '" alt="">'; }).join("") + "</div>" : "") +
      "</div><h2>" + esc(p.title) + '</h2><div class="price">' + esc(fmtPrice(p.price, p.currency)) + "</div>" + stockHtml(p) + starsHtml(p.rating, p.review_count) +
      '<div class="dactions"><button type="button" class="btn-cart" data-cart="' + esc(p.id) + '">Add to cart</button>' +
      '<button type="button" class="btn-similar" data-similar="' + esc(p.id) + '" data-title="' + esc(p.title) + '">Show similar</button></div>' +
      (p.description ? '<div class="desc">' + esc(p.description) + "</div>" : "");
    var rows = (p.categories || []).length ? [["category", (p.categories || []).map(catLabel).join(", ")]] : [];
    Object.keys(attrs).forEach(function (k) { rows.push([k, (attrs[k] || []).join(", ")]); });
    var pl = Array.isArray(p.photo_labels) && p.photo_labels[0] ? p.photo_labels[0] : [];
    if (pl.length) rows.push(["photo looks like", pl.slice(0, 3).map(function (l) { return l[0]; }).join(", ")]);
    if (rows.length) html += "<table>" + rows.map(function (r) { return "<tr><td>" + esc(r[0]) + "</td><td>" + esc(r[1]) + "</td></tr>"; }).join("") + "</table>";
    html += '<div id="detail-similar"></div><div id="detail-together"></div>';
    d.innerHTML = html;
    d.scrollTop = 0;
    api("similar/" + encodeURIComponent(id) + "?k=6").then(function (s) {
      var list = Array.isArray(s.results) ? s.results : [];
      if (seq === detailSeq && list.length) $("detail-similar").innerHTML = "<h4>Similar items</h4><div class='minis'>" + list.map(miniHtml).join("") + "</div>";
    }).catch(function () {});
    api("products/" + encodeURIComponent(id) + "/bought-together?k=4").then(function (s) {
      var list = Array.isArray(s.results) ? s.results : [];
      if (seq === detailSeq && list.length) $("detail-together").innerHTML = "<h4>Often bought together</h4><div class='minis'>" + list.map(miniHtml).join("") + "</div>";
    }).catch(function () {});
  }
  function closeDetail() { detailSeq++; $("detail").hidden = true; $("detail-backdrop").hidden = true; $("detail").innerHTML = ""; }

  function openProduct(id) {
    openDetail(id);
    postEvent("click", id);
  }
  async function addToCart(id, btn) {
    state.cart += 1; $("cart-count").textContent = String(state.cart);
    if (btn) { btn.classList.add("done"); btn.textContent = "Added ✓"; }
    if (!currentUser()) { toast("Added to cart — choose a shopper to personalize results"); return; }
    if (await postEvent("cart", id)) toast("Added to cart for " + currentUser());
  }

  // ---------------------------------------------------------------- autocomplete
  var sug = { items: [], active: -1, timer: null, seq: 0 };
  function highlight(text, q) {
    var i = text.toLowerCase().indexOf(q.toLowerCase());
    if (!q || i < 0) return esc(text);
    return esc(text.slice(0, i)) + "<b>" + esc(text.slice(i, i + q.length)) + "</b>" + esc(text.slice(i + q.length));
  }
  function closeSuggestions() {
    clearTimeout(sug.timer); sug.seq++;
    sug.items = []; sug.active = -1;
    $("suggestions").hidden = true; $("suggestions").innerHTML = "";
    $("q").setAttribute("aria-expanded", "false"); $("q").removeAttribute("aria-activedescendant");
  }
  function renderSuggestions(q) {
    var ul = $("suggestions");
    if (!sug.items.length) { closeSuggestions(); return; }
    ul.innerHTML = sug.items.map(function (s, i) {
      var ico = s.kind === "product" && s.product_id ? '<img src="images/' + encodeURIComponent(s.product_id) + '/0" alt="">'
        : icon(s.kind === "query" ? "clock" : s.kind === "category" ? "folder" : "search");
      return '<li role="option" id="sug-' + i + '" class="suggestion' + (i === sug.active ? " active" : "") + '" data-index="' + i + '" data-kind="' + esc(s.kind) +
        '" aria-selected="' + (i === sug.active) + '"><span class="s-ico">' + ico + '</span><span class="s-text">' + highlight(s.text, q) +
        '</span><span class="s-kind">' + esc(s.kind === "query" ? "search" : s.kind) + "</span></li>";
    }).join("");
    Array.prototype.forEach.call(ul.querySelectorAll("img"), function (im) { im.addEventListener("error", function () { im.remove(); }, { once: true }); });
    ul.hidden = false;
    $("q").setAttribute("aria-expanded", "true");
    if (sug.active >= 0) $("q").setAttribute("aria-activedescendant", "sug-" + sug.active); else $("q").removeAttribute("aria-activedescendant");
  }
  async function fetchSuggestions() {
    var q = $("q").value.trim();
    if (!q) { closeSuggestions(); return; }
    var seq = ++sug.seq;
    try {
      var data = await api("suggest?k=8&q=" + encodeURIComponent(q.slice(0, 100)));
      if (seq !== sug.seq || document.activeElement !== $("q")) return;
      sug.items = Array.isArray(data.suggestions) ? data.suggestions : [];
      sug.active = -1;
      renderSuggestions(q);
    } catch (e) { if (seq === sug.seq) closeSuggestions(); }
  }
  function chooseSuggestion(i) {
    var s = sug.items[i];
    if (!s) return;
    closeSuggestions();
    if (s.kind === "product" && s.product_id) { $("q").value = s.text; openDetail(s.product_id); return; }
    if (s.kind === "category" && s.category) {  // browse the category itself
      ensureCategoryOption(s.category); $("category").value = s.category; $("q").value = "";
      renderActiveFilters(); doSearch(); return;
    }
    $("q").value = s.text;
    doSearch();
  }
  function moveActive(delta) {
    if (!sug.items.length) return;
    var n = sug.items.length;
    sug.active = sug.active < 0 ? (delta > 0 ? 0 : n - 1) : (sug.active + delta + n) % n;
    Array.prototype.forEach.call($("suggestions").children, function (li, i) {
      li.classList.toggle("active", i === sug.active); li.setAttribute("aria-selected", String(i === sug.active));
      if (i === sug.active) li.scrollIntoView({ block: "nearest" });
    });
    $("q").setAttribute("aria-activedescendant", "sug-" + sug.active);
  }

  // ---------------------------------------------------------------- voice
  var rec = { recorder: null, stream: null, chunks: [], timer: null, tick: null, started: 0, cancelled: false };
  function micUi(mode) {
    var b = $("mic");
    b.classList.toggle("recording", mode === "recording");
    b.classList.toggle("busy", mode === "busy");
    b.setAttribute("aria-pressed", String(mode === "recording"));
    b.querySelector("use").setAttribute("href", mode === "recording" ? "#i-stop" : "#i-mic");
    $("mic-label").textContent = mode === "recording" ? "Stop" : mode === "busy" ? "Listening…" : "Voice";
    $("mic-timer").hidden = mode !== "recording";
  }
  function micError(e) {
    var name = e && e.name, msg;
    if (name === "NotAllowedError" || name === "SecurityError") msg = "Microphone access was denied. Allow the microphone for this site in the browser settings to search by voice.";
    else if (name === "NotFoundError" || name === "OverconstrainedError") msg = "No microphone was found. Connect one, or type your search.";
    else if (name === "NotReadableError") msg = "The microphone is in use by another application.";
    else msg = "Microphone unavailable: " + ((e && e.message) || String(e));
    showError(msg);
  }
  function pickMime() {
    if (!window.MediaRecorder || typeof MediaRecorder.isTypeSupported !== "function") return "";
    var types = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus"];
    for (var i = 0; i < types.length; i++) if (MediaRecorder.isTypeSupported(types[i])) return types[i];
    return "";
  }
  function stopRecording() {
    clearTimeout(rec.timer); clearInterval(rec.tick);
    if (rec.recorder && rec.recorder.state !== "inactive") rec.recorder.stop();
  }
  function releaseStream() {
    if (rec.stream) rec.stream.getTracks().forEach(function (t) { t.stop(); });
    rec.stream = null; rec.recorder = null;
  }
  async function toggleMic() {
    if (rec.recorder && rec.recorder.state === "recording") { stopRecording(); return; }
    if ($("mic").classList.contains("busy")) return;
    if (!window.isSecureContext) { showError("Voice search needs a secure page: open it over https or on localhost."); return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { showError("Microphone unavailable: this browser cannot record audio."); return; }
    if (!window.MediaRecorder) { showError("Voice search is not supported by this browser (no MediaRecorder)."); return; }
    micUi("busy");
    try { rec.stream = await navigator.mediaDevices.getUserMedia({ audio: true }); }
    catch (e) { micUi("idle"); micError(e); return; }
    var mime = pickMime();
    try { rec.recorder = mime ? new MediaRecorder(rec.stream, { mimeType: mime }) : new MediaRecorder(rec.stream); }
    catch (e) { releaseStream(); micUi("idle"); micError(e); return; }
    rec.chunks = [];
    rec.recorder.addEventListener("dataavailable", function (ev) { if (ev.data && ev.data.size) rec.chunks.push(ev.data); });
    rec.recorder.addEventListener("stop", function () {
      var type = (rec.recorder && rec.recorder.mimeType) || mime || "audio/webm";
      releaseStream();
      var blob = new Blob(rec.chunks, { type: type.split(";")[0] });
      rec.chunks = [];
      if (!blob.size) { micUi("idle"); showError("No audio was recorded. Try again and speak after clicking the microphone."); return; }
      var ext = /ogg/.test(type) ? "ogg" : /wav/.test(type) ? "wav" : /mp4|aac/.test(type) ? "m4a" : "webm";
      micUi("busy");
      setStatus("Transcribing your voice…", false);
      var body = buildBody(); body.q = null;
      runSearch(body, { audio: blob, audioName: "voice." + ext }).finally(function () { micUi("idle"); });
    });
    rec.recorder.start(250);
    rec.started = Date.now();
    micUi("recording");
    setStatus("Listening… click the microphone again to stop (max " + (MAX_RECORD_MS / 1000) + " s).", false);
    var updateTimer = function () { $("mic-timer").textContent = ((Date.now() - rec.started) / 1000).toFixed(0) + "s"; };
    updateTimer();
    rec.tick = setInterval(updateTimer, 250);
    rec.timer = setTimeout(stopRecording, MAX_RECORD_MS);
  }

  // ---------------------------------------------------------------- photo
  function clearPhoto() {
    $("photo").value = "";
    if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
    $("photo-chosen").hidden = true; $("photo-preview").removeAttribute("src");
  }

  // ---------------------------------------------------------------- wiring
  $("search").addEventListener("submit", function (ev) { ev.preventDefault(); doSearch(); });
  $("q").addEventListener("input", function () {
    clearTimeout(sug.timer);
    if (!$("q").value.trim()) { closeSuggestions(); return; }
    sug.timer = setTimeout(fetchSuggestions, 160);
  });
  $("q").addEventListener("keydown", function (ev) {
    var open = !$("suggestions").hidden;
    if (ev.key === "ArrowDown") { if (open) { ev.preventDefault(); moveActive(1); } else if ($("q").value.trim()) { ev.preventDefault(); fetchSuggestions(); } }
    else if (ev.key === "ArrowUp") { if (open) { ev.preventDefault(); moveActive(-1); } }
    else if (ev.key === "Enter") { if (open && sug.active >= 0) { ev.preventDefault(); chooseSuggestion(sug.active); } else closeSuggestions(); }
    else if (ev.key === "Escape") { if (open) { ev.preventDefault(); closeSuggestions(); } }
  });
  $("q").addEventListener("blur", function () { setTimeout(function () { if (document.activeElement !== $("q")) closeSuggestions(); }, 150); });
  $("suggestions").addEventListener("mousedown", function (ev) { ev.preventDefault(); });  // keep focus in the box
  $("suggestions").addEventListener("click", function (ev) {
    var li = ev.target.closest("li[data-index]");
    if (li) chooseSuggestion(parseInt(li.getAttribute("data-index"), 10));
  });

  $("photo").addEventListener("change", function () {
    var f = this.files && this.files[0];
    if (!f) { clearPhoto(); return; }
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(f);
    $("photo-preview").src = previewUrl; $("photo-chosen").hidden = false;
    doSearch();
  });
  $("photo-clear").addEventListener("click", function () { clearPhoto(); if ($("q").value.trim() || $("category").value) doSearch(); });
  $("mic").addEventListener("click", toggleMic);
  $("filters-toggle").addEventListener("click", toggleFilters);
  $("category").addEventListener("change", function () { renderActiveFilters(); doSearch(); });
  $("fusion").addEventListener("change", function () { if (state.lastBody) doSearch(); });
  $("in-stock").addEventListener("change", function () { if (state.lastView === "search" || $("q").value.trim()) doSearch(); });
  $("sort").addEventListener("change", function () { if (state.lastView === "search" || $("q").value.trim()) doSearch(); });
  $("user").addEventListener("change", onUserChange);
  $("user-other").addEventListener("change", onUserChange);
  $("personalize").addEventListener("change", function () { if (state.lastView === "search") rerun(); else renderPersonalized(null); });

  $("active-filters").addEventListener("click", function (ev) {
    var b = ev.target.closest("button");
    if (!b) return;
    if (b.id === "clear-filters") removeFilter("all");
    else if (b.hasAttribute("data-remove")) removeFilter(b.getAttribute("data-remove"));
  });
  $("facets").addEventListener("click", function (ev) {
    var b = ev.target.closest("button");
    if (!b) return;
    if (b.hasAttribute("data-remove")) { removeFilter(b.getAttribute("data-remove")); return; }
    if (b.classList.contains("facet-value")) applyFacet(b.getAttribute("data-facet"), b.getAttribute("data-value"), b.getAttribute("data-min"), b.getAttribute("data-max"));
  });

  function onProductClick(ev) {
    var t = ev.target.closest("button, [data-open]");
    if (!t) return;
    if (t.hasAttribute("data-open")) { openProduct(t.getAttribute("data-open")); return; }
    if (t.hasAttribute("data-similar")) { loadSimilar(t.getAttribute("data-similar"), t.getAttribute("data-title")); return; }
    if (t.hasAttribute("data-cart")) { addToCart(t.getAttribute("data-cart"), t); return; }
    if (t.hasAttribute("data-example")) { $("q").value = t.getAttribute("data-example"); doSearch(); }
  }
  $("results").addEventListener("click", onProductClick);
  $("profile").addEventListener("click", function (ev) {
    var b = ev.target.closest("button");
    if (!b) return;
    if (b.id === "forget") forgetMe();
    else if (b.hasAttribute("data-open")) openProduct(b.getAttribute("data-open"));
  });
  $("status").addEventListener("click", function (ev) { if (ev.target.id === "back-to-results") rerun(); });
  $("understood").addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-q]");
    if (!b) return;
    $("q").value = b.getAttribute("data-q");
    // "Search instead for" the typed text: with typo tolerance off, or it would be corrected again.
    runSearch(Object.assign(buildBody(), { typo_tolerance: b.getAttribute("data-typed") !== "1" }));
  });
  $("detail").addEventListener("click", function (ev) {
    var t = ev.target;
    if (t.closest(".close")) { closeDetail(); return; }
    if (t.matches(".thumbs img")) { $("detail-img").src = t.getAttribute("data-src"); return; }
    onProductClick(ev);
  });
  $("detail-backdrop").addEventListener("click", closeDetail);
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape" && !$("detail").hidden) closeDetail(); });

  async function init() {
    api("health").then(function (h) {
      $("health").textContent = num(h.products) ? h.products.toLocaleString("en-US") + " products" +
        (num(h.images) ? " · " + h.images.toLocaleString("en-US") + " photos" : "") : "online";
    }).catch(function () { $("health").textContent = "service unavailable"; });
    var saved = null;
    try { saved = localStorage.getItem("shoprank.user"); } catch (e) { /* private mode */ }
    if (saved) {
      var known = Array.prototype.some.call($("user").options, function (o) { return o.value === saved; });
      if (known) $("user").value = saved; else { $("user").value = "__other__"; $("user-other").value = saved; $("user-other").hidden = false; }
      loadProfile(); renderPersonalized(null);
    }
    try {
      var c = await api("categories");
      var sel = $("category");
      (Array.isArray(c.categories) ? c.categories : []).forEach(function (cat) {
        if (!cat || !cat.path) return;
        state.categories[cat.path] = cat.count;
        var o = document.createElement("option");
        o.value = cat.path;
        var depth = cat.path.split("/").length - 1;
        o.textContent = "\u00a0\u00a0".repeat(depth) + cat.path.split("/").pop() + (num(cat.count) ? " (" + cat.count + ")" : "");
        o.title = cat.path;
        sel.appendChild(o);
      });
    } catch (e) { /* categories are optional */ }
    var q = new URLSearchParams(location.search).get("q");
    if (q) { $("q").value = q; doSearch(); }
  }
  init();
})();
