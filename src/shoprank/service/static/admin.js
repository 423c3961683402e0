// The search page's admin panel: synonym sets (and the ones the logs suggest) and merchandising
// rules, edited through /admin/synonyms and /admin/rules with the admin key. The key is kept in
// this tab only (sessionStorage, shared with the analytics page) and sent as X-API-Key.
// Everything the server sends is written with textContent: no markup is built from data.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var KEY = "shoprank.adminKey";
  var ID_OK = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;  // the synonym store's set ids
  var RULE_ID_OK = /^[A-Za-z0-9_.:-]{1,100}$/;      // the rules route's ids
  var panel = $("admin"), opener = $("admin-open");

  function el(tag, text, cls, attrs) {
    var e = document.createElement(tag);
    if (text !== null && text !== undefined) e.textContent = String(text);
    if (cls) e.className = cls;
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function button(text, attrs, cls) { return el("button", text, cls || "adm-btn", Object.assign({ type: "button" }, attrs || {})); }
  function getKey() { try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function setKey(k) { try { if (k === null) sessionStorage.removeItem(KEY); else sessionStorage.setItem(KEY, k); } catch (e) { /* private mode */ } }
  function list(text) { return String(text || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean); }
  function show(node, msg) { node.textContent = msg || ""; node.hidden = !msg; }

  // ---------------------------------------------------------------- the admin API
  // A failed call throws an Error whose message is the server's own reason, verbatim.
  async function adminApi(method, path, body) {
    var headers = {}, key = getKey(), res, data = null;
    if (key) headers["X-API-Key"] = key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try { res = await fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) }); }
    catch (e) { throw new Error("Network error: " + e.message); }
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.ok) return data || {};
    var d = data && data.detail;
    var err = new Error(res.status + ": " + (typeof d === "string" ? d : d ? JSON.stringify(d) : res.statusText));
    err.status = res.status;
    if (res.status === 401 || res.status === 403) { setKey(null); lock("Wrong key — " + err.message); }
    throw err;
  }

  // ---------------------------------------------------------------- open, close, key
  function open() {
    panel.hidden = false; $("admin-backdrop").hidden = false; opener.setAttribute("aria-expanded", "true");
    if (getKey()) unlock(); else lock("");
  }
  function close() {
    panel.hidden = true; $("admin-backdrop").hidden = true; opener.setAttribute("aria-expanded", "false");
    opener.focus();
  }
  function lock(msg) {
    $("admin-body").hidden = true; $("admin-lock").hidden = true; $("admin-login").hidden = false;
    show($("admin-msg"), msg);
    $("admin-key").value = "";
    $("admin-key").focus();
  }
  async function unlock() {
    $("admin-login").hidden = true; show($("admin-msg"), "");
    try { await Promise.all([loadSynonyms(), loadRules()]); }
    catch (e) { if (e.status !== 401 && e.status !== 403) show($("admin-msg"), e.message); return; }
    $("admin-body").hidden = false; $("admin-lock").hidden = false;
    loadSuggested();
    $("adm-syn-terms").focus();
  }
  $("admin-login").addEventListener("submit", function (ev) {
    ev.preventDefault();
    setKey($("admin-key").value.trim());
    unlock();
  });
  $("admin-lock").addEventListener("click", function () { setKey(null); lock("Key forgotten."); });
  opener.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  $("admin-close").addEventListener("click", close);
  $("admin-backdrop").addEventListener("click", close);
  document.addEventListener("keydown", function (ev) {
    if (panel.hidden) return;
    if (ev.key === "Escape") { ev.preventDefault(); close(); return; }
    if (ev.key !== "Tab") return;  // keep the focus inside the dialog
    var f = Array.prototype.filter.call(panel.querySelectorAll("button, input, select, textarea"), function (n) {
      return !n.disabled && n.offsetParent !== null;
    });
    if (!f.length) return;
    if (ev.shiftKey && document.activeElement === f[0]) { ev.preventDefault(); f[f.length - 1].focus(); }
    else if (!ev.shiftKey && document.activeElement === f[f.length - 1]) { ev.preventDefault(); f[0].focus(); }
  });

  // A delete asks for a second press within a few seconds (no modal confirm to trap keyboards).
  function confirmDelete(b, action) {
    if (b.getAttribute("data-armed") === "1") { action(); return; }
    b.setAttribute("data-armed", "1"); b.textContent = "Confirm delete";
    setTimeout(function () { b.setAttribute("data-armed", ""); b.textContent = "Delete"; }, 4000);
  }

  // ---------------------------------------------------------------- synonyms
  async function loadSynonyms() {
    var data = await adminApi("GET", "admin/synonyms");
    var ul = $("adm-synonyms"); ul.textContent = "";
    (data.synonyms || []).forEach(function (s) {
      var li = el("li", null, "adm-item", { "data-id": s.id });
      li.appendChild(el("span", s.input ? "one-way" : "multi-way", "adm-kind"));
      li.appendChild(el("b", s.id));
      li.appendChild(el("span", s.description, "adm-desc"));
      var edit = button("Edit", { "aria-label": "Edit synonym set " + s.id });
      edit.addEventListener("click", function () {
        $("adm-syn-id").value = s.id; $("adm-syn-terms").value = s.terms.join(", "); $("adm-syn-input").value = s.input || "";
        $("adm-syn-terms").focus();
      });
      var del = button("Delete", { "aria-label": "Delete synonym set " + s.id, "data-delete": s.id });
      del.addEventListener("click", function () {
        confirmDelete(del, function () { deleteThen("admin/synonyms/" + encodeURIComponent(s.id), $("adm-syn-err"), loadSynonyms); });
      });
      li.appendChild(edit); li.appendChild(del); ul.appendChild(li);
    });
    if (!ul.children.length) ul.appendChild(el("li", "No synonym sets yet.", "adm-empty"));
  }

  async function deleteThen(path, errBox, reload) {
    show(errBox, "");
    try { await adminApi("DELETE", path); await reload(); } catch (e) { show(errBox, e.message); }
  }

  async function saveSynonyms(id, body, errBox) {
    show(errBox, "");
    if (!ID_OK.test(id)) { show(errBox, "The id takes letters, digits, '.', '_' and '-' (up to 64), starting with a letter or digit."); return false; }
    try { await adminApi("PUT", "admin/synonyms/" + encodeURIComponent(id), body); }
    catch (e) { show(errBox, e.message); return false; }
    await loadSynonyms();
    return true;
  }

  $("adm-syn-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    var input = $("adm-syn-input").value.trim(), body = { terms: list($("adm-syn-terms").value) };
    if (input) body.input = input;
    if (await saveSynonyms($("adm-syn-id").value.trim(), body, $("adm-syn-err"))) $("adm-syn-form").reset();
  });

  // The logs' suggestions: approving one stores it as a multi-way set named after its terms.
  async function loadSuggested() {
    var ul = $("adm-suggested"), note = $("adm-sugg-note");
    ul.textContent = ""; show(note, "");
    var data;
    try { data = await adminApi("GET", "admin/synonyms:suggested"); }
    catch (e) { show(note, e.message); return; }
    (data.suggestions || []).forEach(function (s) {
      var li = el("li", null, "adm-item");
      li.appendChild(el("b", s.terms.join(" = ")));
      li.appendChild(el("span", "support " + s.support + " (" + s.shared_products + " shared products, " +
        s.reformulations + " reformulations)", "adm-desc"));
      var ok = button("Approve", { "aria-label": "Approve " + s.terms.join(" = ") });
      ok.addEventListener("click", async function () {
        var slug = s.terms.join("-").toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 64);
        if (await saveSynonyms(ID_OK.test(slug) ? slug : "suggested-" + Date.now(), { terms: s.terms }, note)) li.remove();
      });
      li.appendChild(ok); ul.appendChild(li);
    });
    if (!ul.children.length) show(note, "No suggestions from the logs yet.");
  }
  $("adm-sugg-load").addEventListener("click", loadSuggested);

  // ---------------------------------------------------------------- rules
  function when(rule) {
    var w = rule.query ? "“" + rule.query + "” (" + rule.match + ")" : "category " + rule.category;
    return rule.query && rule.category ? w + " in " + rule.category : w;
  }
  // A boost's or bury's filter by its conditions only: "colors yellow, price_max 50".
  function filterText(f) {
    return Object.keys(f || {}).filter(function (k) {
      var v = f[k]; return v !== null && v !== false && v !== "" && !(Array.isArray(v) && !v.length);
    }).map(function (k) { return k + " " + (Array.isArray(f[k]) ? f[k].join("/") : f[k]); }).join(", ");
  }
  function actions(rule) {
    var a = [];
    if (rule.pin && rule.pin.length) a.push("pin " + rule.pin.join(", "));
    if (rule.hide && rule.hide.length) a.push("hide " + rule.hide.length);
    if (rule.boost) a.push("boost ×" + rule.boost.by + " (" + filterText(rule.boost.filter) + ")");
    if (rule.bury) a.push("bury ×" + rule.bury.by + " (" + filterText(rule.bury.filter) + ")");
    return a.join("; ") || "no action";
  }
  function window_(rule, active) {
    var d = function (t) { return new Date(t * 1000).toISOString().slice(0, 16).replace("T", " "); };
    var w = rule.active_from == null && rule.active_until == null ? "always"
      : (rule.active_from != null ? "from " + d(rule.active_from) + " " : "") + (rule.active_until != null ? "until " + d(rule.active_until) : "");
    return w.trim() + (active ? "" : " — inactive now");
  }
  // The stored rule without its empty fields: what the JSON box shows for editing.
  function compact(rule) {
    var out = {};
    Object.keys(rule).forEach(function (k) {
      var v = rule[k];
      if (v === null || v === "" || (Array.isArray(v) && !v.length)) return;
      out[k] = v;
    });
    return out;
  }

  async function loadRules() {
    var data = await adminApi("GET", "admin/rules");
    var ul = $("adm-rules"); ul.textContent = "";
    (data.rules || []).forEach(function (r) {
      var li = el("li", null, "adm-item" + (r.active ? "" : " inactive"), { "data-id": r.id });
      li.appendChild(el("b", r.id));
      li.appendChild(el("span", when(r.rule) + " → " + actions(r.rule) + " · " + window_(r.rule, r.active), "adm-desc"));
      var edit = button("Edit", { "aria-label": "Edit rule " + r.id });
      edit.addEventListener("click", function () {
        $("adm-rule-id").value = r.id;
        $("adm-rule-json").value = JSON.stringify(compact(r.rule), null, 2);
        jsonToFields();
        $("adm-rule-query").focus();
      });
      var del = button("Delete", { "aria-label": "Delete rule " + r.id, "data-delete": r.id });
      del.addEventListener("click", function () {
        confirmDelete(del, function () { deleteThen("admin/rules/" + encodeURIComponent(r.id), $("adm-rule-err"), loadRules); });
      });
      li.appendChild(edit); li.appendChild(del); ul.appendChild(li);
    });
    if (!ul.children.length) ul.appendChild(el("li", "No rules yet.", "adm-empty"));
  }

  // The form's fields (query, match, pin, hide) and the JSON box are one rule: editing either
  // updates the other, and the JSON box carries what the form has no field for.
  function parseJson() {
    var text = $("adm-rule-json").value.trim();
    if (!text) return {};
    var v = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("the rule must be a JSON object");
    return v;
  }
  function fieldsToJson() {
    var rule;
    try { rule = parseJson(); } catch (e) { show($("adm-rule-err"), "The rule's JSON does not parse: " + e.message); return null; }
    var q = $("adm-rule-query").value.trim(), pin = list($("adm-rule-pin").value), hide = list($("adm-rule-hide").value);
    if (q) rule.query = q; else delete rule.query;
    if (q || rule.match) rule.match = $("adm-rule-match").value;
    if (pin.length) rule.pin = pin; else delete rule.pin;
    if (hide.length) rule.hide = hide; else delete rule.hide;
    $("adm-rule-json").value = JSON.stringify(rule, null, 2);
    return rule;
  }
  function jsonToFields() {
    var rule;
    try { rule = parseJson(); } catch (e) { return; }  // mid-edit: the fields wait for valid JSON
    show($("adm-rule-err"), "");
    $("adm-rule-query").value = typeof rule.query === "string" ? rule.query : "";
    $("adm-rule-match").value = rule.match === "contains" ? "contains" : "exact";
    $("adm-rule-pin").value = Array.isArray(rule.pin) ? rule.pin.join(", ") : "";
    $("adm-rule-hide").value = Array.isArray(rule.hide) ? rule.hide.join(", ") : "";
  }
  ["adm-rule-query", "adm-rule-match", "adm-rule-pin", "adm-rule-hide"].forEach(function (id) {
    $(id).addEventListener("change", fieldsToJson);
  });
  $("adm-rule-json").addEventListener("input", jsonToFields);

  function ruleId() {
    var id = $("adm-rule-id").value.trim();
    if (RULE_ID_OK.test(id)) return id;
    show($("adm-rule-err"), "The rule id takes letters, digits, '_', '.', ':' and '-' (up to 100).");
    return null;
  }

  $("adm-rule-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    show($("adm-rule-err"), "");
    var id = ruleId(), rule = fieldsToJson();
    if (id === null || rule === null) return;
    try { await adminApi("PUT", "admin/rules/" + encodeURIComponent(id), rule); }
    catch (e) { show($("adm-rule-err"), e.message); return; }
    await loadRules();
    toastSaved("Rule " + id + " saved: the next search applies it.");
  });
  $("adm-rule-preview").addEventListener("click", async function () {
    show($("adm-rule-err"), "");
    var id = $("adm-rule-id").value.trim(), rule = fieldsToJson();
    if (rule === null) return;
    var path = "admin/rules:preview" + (RULE_ID_OK.test(id) ? "?id=" + encodeURIComponent(id) : "");
    var box = $("adm-preview");
    try { renderPreview(await adminApi("POST", path, rule)); }
    catch (e) { box.hidden = true; show($("adm-rule-err"), e.message); }
  });
  $("adm-rule-new").addEventListener("click", function () {
    $("adm-rule-form").reset(); $("adm-rule-json").value = ""; $("adm-preview").hidden = true; show($("adm-rule-err"), "");
  });
  function toastSaved(msg) {
    var t = $("toast"); if (!t) return;
    t.textContent = msg; t.hidden = false;
    setTimeout(function () { t.hidden = true; }, 2600);
  }

  // ---------------------------------------------------------------- preview
  function column(title, results, other, testid) {
    var col = el("div", null, "adm-col", { "data-testid": testid });
    col.appendChild(el("h5", title));
    var ol = el("ol");
    results.forEach(function (r, i) {
      var li = el("li", null, other[r.id] === i ? "" : "moved", { "data-id": r.id, title: r.id });
      li.appendChild(el("span", r.title || r.id, "t"));
      if (r.pinned) li.appendChild(el("span", "pinned", "adm-tag"));
      ol.appendChild(li);
    });
    col.appendChild(ol);
    return col;
  }
  function clicksLine(p) {
    if (!p.clicks) return "Expected clicks: no estimate — " + (p.clicks_note || "no logged searches");
    var c = p.clicks, sign = c.change > 0 ? "+" : "";
    return "Expected clicks per search: " + c.before.toFixed(3) + " now → " + c.after.toFixed(3) + " with the rule (" +
      sign + (100 * c.change / (c.before || 1)).toFixed(1) + " %), from " + c.pages + " logged page" + (c.pages === 1 ? "" : "s") +
      (c.unseen ? "; " + c.unseen + " product" + (c.unseen === 1 ? "" : "s") + " never shown before" : "");
  }
  function renderPreview(p) {
    var box = $("adm-preview"), pos = function (list) {
      var m = {}; list.forEach(function (r, i) { m[r.id] = i; }); return m;
    };
    box.textContent = "";
    box.appendChild(el("h4", "Preview: " + (p.query ? "“" + p.query + "”" : "category " + p.category) + " — " + p.moved +
      " of the top " + p.before.length + " moved" + (p.active ? "" : " (the rule is not active now)")));
    box.appendChild(el("p", clicksLine(p), "adm-clicks", { "data-testid": "preview-clicks" }));
    var cols = el("div", null, "adm-cols");
    cols.appendChild(column("Now", p.before, pos(p.after), "preview-before"));
    cols.appendChild(column("With the rule", p.after, pos(p.before), "preview-after"));
    box.appendChild(cols);
    box.hidden = false;
  }
})();
