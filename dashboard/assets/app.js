// The usage dashboard: fetches /api/dashboard for the chosen days and time
// zone, draws it (the charts are plain SVG), and fetches again whenever
// /api/events says the ledger changed. No library, no build step.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  const store = window.localStorage;

  const nf = new Intl.NumberFormat();
  const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const dollars = (x) => "$" + money.format(x);
  const bytes = (n) => n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + " GiB" : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB" : (n / 1024).toFixed(0) + " KiB";

  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  let zone = store.getItem("cco.tz") || browserZone;
  let preset = store.getItem("cco.days") || "30"; // "0": everything; "": the dates typed
  let shown = -1; // the generation on the page
  let latest = -1; // the newest generation an event named
  let pending = null, again = false, last = null;

  // today in the chosen zone, as YYYY-MM-DD
  function today() {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  }
  function addDays(date, n) {
    const d = new Date(date + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  function range() {
    if (preset === "0") return { since: "", until: "" };
    if (preset !== "") return { since: addDays(today(), 1 - Number(preset)), until: today() };
    return { since: $("since").value, until: $("until").value };
  }

  function el(tag, attrs, text) {
    const e = tag.startsWith("svg:") ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function setNum(id, value, text, title) {
    const e = $(id);
    e.textContent = text;
    e.dataset.value = String(value);
    if (title) e.title = title;
  }

  function glance(id, g) {
    $(id + "-label").textContent = g.label;
    setNum(id + "-cost", g.cost, dollars(g.cost), "$" + g.cost);
    setNum(id + "-tokens", g.tokens, compact.format(g.tokens), nf.format(g.tokens));
    setNum(id + "-calls", g.calls, nf.format(g.calls));
  }

  // niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten.
  function niceMax(x) {
    if (x <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
    return 10 * p;
  }

  function chart(rg) {
    const box = $("chart");
    drawnWidth = box.clientWidth;
    const W = Math.max(box.clientWidth, 280), H = box.clientHeight || 240;
    const L = 52, R = 8, T = 8, B = 22, pw = W - L - R, ph = H - T - B;
    const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Cost per day by model" });
    const days = rg.days, n = Math.max(days.length, 1);
    // The seven costliest models have colours of their own; the rest are "other".
    const own = Math.min(rg.models.length, rg.models.length > 8 ? 7 : 8);
    const top = niceMax(Math.max(0, ...days.map((d) => d.cost)));
    for (let i = 0; i <= 4; i++) {
      const y = T + ph - (ph * i) / 4;
      svg.append(el("svg:line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y }));
      svg.append(el("svg:text", { x: L - 6, y: y + 4, "text-anchor": "end" }, "$" + money.format((top * i) / 4).replace(/\.00$/, "")));
    }
    const bw = pw / n, gap = bw > 4 ? Math.min(bw * 0.2, 4) : 0;
    const every = Math.ceil(n / Math.max(1, Math.floor(pw / 70)));
    days.forEach((d, i) => {
      let y = T + ph;
      const x = L + i * bw + gap / 2;
      const parts = d.costs.slice(0, own).map((c, j) => [c, j]);
      if (rg.models.length > own) parts.push([d.costs.slice(own).reduce((a, b) => a + b, 0), 7]);
      for (const [c, j] of parts) {
        if (c <= 0) continue;
        const h = (c / top) * ph;
        y -= h;
        const r = el("svg:rect", { class: "s" + j, x: x, y: y, width: Math.max(bw - gap, 0.5), height: h });
        r.append(el("svg:title", {}, `${d.date} · ${j < own ? rg.models[j] : "other models"}: ${dollars(c)}`));
        svg.append(r);
      }
      if (i % every === 0) svg.append(el("svg:text", { x: x + (bw - gap) / 2, y: H - 6, "text-anchor": "middle" }, d.date.slice(5)));
    });
    box.replaceChildren(svg);
    const legend = $("legend");
    legend.replaceChildren();
    rg.models.slice(0, own).forEach((m, j) => { const li = el("li", { class: "s" + j }); li.append(el("span", {}, m)); legend.append(li); });
    if (rg.models.length > own) { const li = el("li", { class: "s7" }); li.append(el("span", {}, "other models")); legend.append(li); }
  }

  function kinds(t) {
    const rows = [["Input", "input"], ["Output", "output"], ["Cache write", "cacheWrite"], ["Cache read", "cacheRead"]];
    const top = Math.max(1, ...rows.map((r) => t[r[1]]));
    const box = $("kinds");
    box.replaceChildren();
    rows.forEach(([label, key], i) => {
      const row = el("div", { class: "kind" });
      const svg = el("svg:svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none" });
      svg.append(el("svg:rect", { class: "k" + i, x: 0, y: 0, height: 10, width: Math.max((t[key] / top) * 100, t[key] > 0 ? 0.5 : 0) }));
      const v = el("span", { class: "v", id: "tok-" + key, title: nf.format(t[key]) }, compact.format(t[key]));
      v.dataset.value = String(t[key]);
      row.append(el("span", {}, label), svg, v);
      box.append(row);
    });
  }

  function table(id, rows, cells) {
    const body = $(id).tBodies[0];
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = el("tr");
      tr.append(el("td", { colspan: 4, class: "muted" }, "No usage in these days."));
      body.append(tr);
    }
    for (const r of rows) {
      const tr = el("tr");
      for (const [text, cls, title] of cells(r)) tr.append(el("td", Object.assign(cls ? { class: cls } : {}, { title: title || text }), text));
      body.append(tr);
    }
  }

  function when(iso) {
    return new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
  }

  function progress(p) {
    const b = $("progress");
    if (p.syncing && p.totalFiles > 0) {
      b.textContent = `Reading Claude Code's transcripts: ${nf.format(p.progressFiles)} of ${nf.format(p.totalFiles)} files, ` +
        `${bytes(p.progressBytes)} of ${bytes(p.totalBytes)}. The numbers below are partial until it is done.`;
      b.hidden = false;
    } else b.hidden = true;
  }

  function state(s) {
    const parts = [];
    parts.push(s.since && !s.since.startsWith("0001") ? "Ledger holds usage since " + when(s.since) : "The ledger holds no usage yet");
    parts.push(`${nf.format(s.calls)} calls from ${nf.format(s.files)} transcripts`);
    parts.push(`${nf.format(s.malformed_lines)} malformed lines`);
    parts.push("ingest lag " + (s.ingest_lag_ns > 0 ? Math.round(s.ingest_lag_ns / 1e6) + " ms" : "none"));
    const st = $("state");
    st.replaceChildren(el("span", { id: "live", class: "live" + (live ? " on" : "") }, live ? "live" : "not live"), document.createTextNode(" · " + parts.join(" · ")));
  }

  function render(d) {
    last = d;
    glance("today", d.today);
    glance("month", d.month);
    d.all.label = "";
    glance("all", d.all);
    const rg = d.range;
    $("range-label").textContent = rg.since + " – " + rg.until + " (" + d.timezone + ")";
    setNum("range-cost", rg.total.cost, dollars(rg.total.cost));
    setNum("range-tokens", rg.total.tokens, compact.format(rg.total.tokens), nf.format(rg.total.tokens));
    setNum("range-calls", rg.total.calls, nf.format(rg.total.calls));
    chart(rg);
    kinds(rg.tokens);
    const s = rg.savings;
    setNum("saved", s.saved, dollars(s.saved));
    $("saved-detail").textContent = `${compact.format(s.cacheReadTokens)} cache-read tokens would have cost ${dollars(s.asInput)} at input rates; they cost ${dollars(s.paid)}.`;
    table("projects", d.projects, (p) => [[p.project], [nf.format(p.sessions), "n"], [compact.format(p.tokens), "n", nf.format(p.tokens)], [dollars(p.cost), "n"]]);
    table("sessions", d.sessions, (s) => [[s.sessionId.slice(0, 8), "", s.sessionId], [s.project], [when(s.lastActivity)], [dollars(s.cost), "n"]]);
    const u = $("unpriced");
    u.hidden = d.unpriced == null || d.unpriced.length === 0;
    u.textContent = u.hidden ? "" : "Not priced (tokens counted at no cost): " + d.unpriced.join(", ") + ". Add them to prices.toml in CCO_HOME.";
    state(d.state);
    progress({ syncing: d.state.syncing, progressFiles: d.state.progress_files, totalFiles: d.state.total_files, progressBytes: d.state.progress_bytes, totalBytes: d.state.total_bytes });
    shown = d.generation;
    document.body.dataset.generation = String(d.generation);
  }

  // load fetches and draws; a call while one is under way asks for one more after it.
  function load() {
    if (pending) { again = true; return pending; }
    const r = range();
    const q = new URLSearchParams({ timezone: zone, since: r.since, until: r.until });
    pending = fetch("/api/dashboard?" + q, { headers: { Accept: "application/json" } })
      .then((resp) => resp.json().then((body) => {
        if (!resp.ok) throw new Error(body.error || resp.statusText);
        render(body);
        $("error").hidden = true;
        if (!document.body.dataset.ready) {
          window.ccoFirstRender = performance.now();
          document.body.dataset.ready = "1";
        }
      }))
      .catch((e) => { latest = -1; $("error").textContent = "Cannot load the usage: " + e.message; $("error").hidden = false; })
      .finally(() => {
        pending = null;
        if (again || (latest >= 0 && latest !== shown)) { again = false; load(); }
      });
    return pending;
  }

  function controls() {
    const sel = $("tz");
    const option = (z) => el("option", { value: z }, z === browserZone ? z + " (this browser)" : z);
    for (const z of new Set(["UTC", browserZone, zone])) sel.append(option(z));
    sel.value = zone;
    // The full list (some 400 zones) only when the select is first used:
    // building it would delay the first render.
    const fill = () => {
      sel.removeEventListener("focus", fill);
      sel.removeEventListener("mousedown", fill);
      let zones = [];
      try { zones = Intl.supportedValuesOf("timeZone"); } catch (e) { zones = []; }
      const have = new Set(Array.from(sel.options, (o) => o.value));
      for (const z of zones) if (!have.has(z)) sel.append(option(z));
      sel.value = zone;
    };
    sel.addEventListener("focus", fill);
    sel.addEventListener("mousedown", fill);
    sel.addEventListener("change", () => { if (!sel.value) return; zone = sel.value; store.setItem("cco.tz", zone); syncDates(); load(); });
    for (const b of document.querySelectorAll(".presets button")) {
      b.addEventListener("click", () => { preset = b.dataset.days; store.setItem("cco.days", preset); syncDates(); load(); });
    }
    for (const id of ["since", "until"]) {
      $(id).addEventListener("change", () => { preset = ""; store.setItem("cco.days", ""); store.setItem("cco.since", $("since").value); store.setItem("cco.until", $("until").value); syncDates(); load(); });
    }
  }
  function syncDates() {
    if (preset !== "") { const r = range(); $("since").value = r.since; $("until").value = r.until; }
    for (const b of document.querySelectorAll(".presets button")) b.classList.toggle("on", b.dataset.days === preset);
  }

  let live = false;
  function listen() {
    const es = new EventSource("/api/events");
    es.onopen = () => { live = true; const l = $("live"); if (l) { l.className = "live on"; l.textContent = "live"; } };
    es.onerror = () => { live = false; const l = $("live"); if (l) { l.className = "live"; l.textContent = "not live"; } };
    es.onmessage = (m) => {
      const p = JSON.parse(m.data);
      progress(p);
      latest = p.generation;
      if (p.generation !== shown && !pending) load();
    };
  }

  // Redraw the chart at its new width (a narrower window, a rotated phone).
  let drawnWidth = 0;
  new ResizeObserver(() => {
    const w = $("chart").clientWidth;
    if (last && w !== drawnWidth) chart(last.range);
  }).observe($("chart"));

  // The data first: drawing waits for it, the controls do not.
  if (preset === "") { $("since").value = store.getItem("cco.since") || ""; $("until").value = store.getItem("cco.until") || ""; }
  load();
  controls();
  syncDates();
  listen();
})();
