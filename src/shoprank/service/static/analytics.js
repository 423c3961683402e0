(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var CAPTIONS = { searches_over_time: "Searches over time", engagement: "Click-through, MRR, carts and purchases",
    click_positions: "Clicks by position", latency: "Latency percentiles", problem_queries: "Zero-result and no-click queries",
    experiments: "Experiment readout" };
  function el(tag, text, cls) { var e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }
  function pct(v) { return (100 * v).toFixed(1) + " %"; }
  function fmt(v) { return typeof v !== "number" ? "" : Number.isInteger(v) ? String(v) : Math.abs(v) < 10 ? v.toFixed(4) : v.toFixed(1); }
  function setStatus(msg, err) { var s = $("status"); s.textContent = msg; s.className = err ? "error" : ""; }
  try { $("key").value = sessionStorage.getItem("shoprank.adminKey") || ""; } catch (e) { /* private mode */ }

  function table(node, cols, rows) {
    node.textContent = "";
    var tr = el("tr"); cols.forEach(function (c) { tr.appendChild(el("th", c)); }); node.appendChild(tr);
    rows.forEach(function (r) { var t = el("tr"); r.forEach(function (v) { t.appendChild(el("td", v)); }); node.appendChild(t); });
  }

  function render(data) {
    var rep = data.report, o = rep.overall || {};
    $("kpis").textContent = "";
    [["Searches", o.searches || 0, ""], ["CTR@10", o["ctr@10"], "pct"], ["MRR of clicks", o.mrr, ""],
     ["Conversion", o.conversion, "pct"], ["Zero results", o.zero_results, "pct"], ["p50 latency", o.latency_p50_ms, "ms"],
     ["p99 latency", o.latency_p99_ms, "ms"]].forEach(function (k) {
      var box = el("div", null, "kpi"), v = k[1];
      box.appendChild(el("div", typeof v !== "number" ? "–" : k[2] === "pct" ? pct(v) : k[2] === "ms" ? v.toFixed(1) + " ms" : fmt(v), "v"));
      box.appendChild(el("div", k[0], "n"));
      $("kpis").appendChild(box);
    });
    var ex = $("experiments"); ex.textContent = "";
    (rep.experiments || []).forEach(function (e) {
      var box = el("div", null, "exp"); box.setAttribute("data-testid", "experiment");
      box.appendChild(el("b", "Experiment " + e.name + " (" + (e.kind === "ab" ? "A/B" : "interleaving") + "): " + e.control + " vs " + e.treatment));
      box.appendChild(el("div", e.searches + " searches, " + e.units + " shoppers"));
      if (e.interleaving) {
        var il = e.interleaving;
        var line = el("div", "pages won: " + e.control + " " + il.wins_a + ", " + e.treatment + " " + il.wins_b + ", ties " + il.ties +
          "; shoppers preferring " + e.control + " " + il.prefer_a + ", " + e.treatment + " " + il.prefer_b + ", neither " + il.prefer_neither +
          "; margin [" + il.ci_lo.toFixed(4) + ", " + il.ci_hi.toFixed(4) + "]; sign test over shoppers p = " + il.p_value.toPrecision(3) + " ");
        line.appendChild(el("span", il.p_value < 0.01 ? "significant" : "not significant", il.p_value < 0.01 ? "sig" : "nsig"));
        box.appendChild(line);
      }
      (e.ab || []).forEach(function (r) {
        var line = el("div", r.metric + ": " + e.control + " " + fmt(r.control) + ", " + e.treatment + " " + fmt(r.treatment) +
          ", Δ " + fmt(r.delta) + ", p = " + Number(r.p_value).toPrecision(3) + " ");
        line.appendChild(el("span", r.p_value < 0.01 ? "significant" : "not significant", r.p_value < 0.01 ? "sig" : "nsig"));
        box.appendChild(line);
      });
      ex.appendChild(box);
    });
    var plots = $("plots"); plots.textContent = "";
    Object.keys(data.plots || {}).forEach(function (name) {
      var src = data.plots[name];
      if (typeof src !== "string" || src.indexOf("data:image/png;base64,") !== 0) return;
      var f = el("figure"), img = el("img"); img.src = src; img.alt = CAPTIONS[name] || name; img.setAttribute("data-plot", name);
      f.appendChild(img); f.appendChild(el("figcaption", CAPTIONS[name] || name)); plots.appendChild(f);
    });
    var cols = ["searches", "ctr@1", "ctr@10", "mrr", "conversion", "zero_results", "latency_p50_ms", "latency_p99_ms"];
    var rows = [["all", o]];
    Object.keys(rep.by_arm || {}).forEach(function (k) { rows.push(["arm " + k, rep.by_arm[k]]); });
    Object.keys(rep.by_ranker || {}).forEach(function (k) { rows.push(["ranker " + k, rep.by_ranker[k]]); });
    table($("groups"), ["group"].concat(cols), rows.map(function (r) { return [r[0]].concat(cols.map(function (c) { return fmt(r[1][c]); })); }));
    table($("queries"), ["query", "searches", "CTR@10", "MRR", "conversion"], (rep.queries || []).map(function (q) {
      return [q.query, String(q.searches), pct(q["ctr@10"]), fmt(q.mrr), pct(q.conversion)]; }));
    setStatus((o.searches || 0) + " searches in the last " + $("days").selectedOptions[0].textContent + ".");
  }

  function headers() {
    var key = $("key").value.trim(), h = { "Content-Type": "application/json" };
    if (key) h["X-API-Key"] = key;
    return h;
  }

  // Suggested synonyms with their support; "Approve" stores one as a multi-way set named after its terms.
  async function loadSuggested() {
    var node = $("suggested"), note = $("sugg-status"), res, data = null;
    try { res = await fetch("admin/synonyms:suggested", { headers: headers() }); data = await res.json(); }
    catch (e) { note.textContent = "Could not load the suggestions."; return; }
    if (!res.ok) { note.textContent = (data && typeof data.detail === "string") ? data.detail : "The server answered " + res.status; return; }
    var rows = data.suggestions || [];
    node.textContent = "";
    note.textContent = rows.length ? "" : "No suggestions from the logs yet.";
    if (!rows.length) return;
    var tr = el("tr");
    ["terms", "support", "shared products", "reformulations", ""].forEach(function (c) { tr.appendChild(el("th", c)); });
    node.appendChild(tr);
    rows.forEach(function (s) {
      var t = el("tr");
      [s.terms.join(" = "), String(s.support), String(s.shared_products), String(s.reformulations)].forEach(function (v) {
        t.appendChild(el("td", v)); });
      var td = el("td"), ok = el("button", "Approve");
      ok.type = "button"; ok.setAttribute("aria-label", "Approve " + s.terms.join(" = "));
      ok.addEventListener("click", async function () {
        var id = s.terms.join("-").toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 64) ||
          "suggested-" + Date.now();
        var r = await fetch("admin/synonyms/" + encodeURIComponent(id), { method: "PUT", headers: headers(),
          body: JSON.stringify({ terms: s.terms }) });
        if (r.ok) { t.remove(); note.textContent = "Approved: " + s.terms.join(" = ") + " (set " + id + ")."; }
        else { var d = null; try { d = await r.json(); } catch (e) { d = null; }
          note.textContent = r.status + ": " + ((d && typeof d.detail === "string") ? d.detail : JSON.stringify(d && d.detail)); }
      });
      td.appendChild(ok); t.appendChild(td); node.appendChild(t);
    });
  }

  async function load() {
    setStatus("Loading…");
    var key = $("key").value.trim(), headers = {};
    if (key) headers["X-API-Key"] = key;
    try { sessionStorage.setItem("shoprank.adminKey", key); } catch (e) { /* private mode */ }
    var res;
    try { res = await fetch("admin/analytics?days=" + encodeURIComponent($("days").value), { headers: headers }); }
    catch (e) { setStatus("Network error: " + e.message, true); return; }
    var data = null; try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) { setStatus((data && typeof data.detail === "string") ? data.detail : "The server answered " + res.status, true); return; }
    render(data);
    loadSuggested();
  }
  $("refresh").addEventListener("click", load);
  $("days").addEventListener("change", load);
  load();
})();
