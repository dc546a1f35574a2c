// The breaker dashboard. Every value from the server is put into the page as text
// (textContent, setAttribute), never parsed as HTML.
"use strict";
// The script is in the head: it starts once the body it fills in is there.
document.addEventListener("DOMContentLoaded", function () {
  // The router may be nested under any prefix: its routes are relative to this page.
  var base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  var SAMPLES = 300; // one a second: the last five minutes
  var RATE_WINDOW = 60; // seconds the rates are taken over
  var TIMELINE = 200;
  var history = new Map(); // component -> [{t, calls, failures}]
  var countdowns = new Map(); // component -> {until, cell}
  var seen = new Set(); // event seq numbers already on the timeline

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function pct(x) {
    return x === null ? "–" : (100 * x).toFixed(1) + " %";
  }

  function human(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1000) return "0s";
    var s = Math.ceil(ms / 1000), out = [];
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    if (h) out.push(h + "h");
    if (m) out.push(m + "m");
    if (s || !out.length) out.push(s + "s");
    return out.join(" ");
  }

  function record(c, now) {
    var ring = history.get(c.component);
    if (!ring) { ring = []; history.set(c.component, ring); }
    ring.push({ t: now, calls: c.calls, failures: c.failures });
    while (ring.length > SAMPLES) ring.shift();
    return ring;
  }

  // Calls a second and the failed share of them over the last RATE_WINDOW seconds.
  function rates(ring) {
    var last = ring[ring.length - 1], first = ring[0];
    for (var i = ring.length - 1; i >= 0; i--) {
      if (last.t - ring[i].t > RATE_WINDOW * 1000) break;
      first = ring[i];
    }
    var dt = (last.t - first.t) / 1000, calls = last.calls - first.calls;
    if (dt <= 0) return { callRate: null, errorRate: null };
    return {
      callRate: calls / dt,
      errorRate: calls > 0 ? (last.failures - first.failures) / calls : null,
    };
  }

  // Per-sample deltas as two polylines, calls (blue) and failures (red), stretched over the
  // samples there are (at least a minute's worth of slots, so a fresh page is not a smear).
  function spark(ring) {
    var ns = "http://www.w3.org/2000/svg";
    var slots = Math.max(60, ring.length - 1);
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 " + slots + " 24");
    svg.setAttribute("preserveAspectRatio", "none");
    var calls = [], fails = [], max = 1;
    for (var i = 1; i < ring.length; i++) {
      calls.push(ring[i].calls - ring[i - 1].calls);
      fails.push(ring[i].failures - ring[i - 1].failures);
      max = Math.max(max, calls[calls.length - 1]);
    }
    [["calls", calls], ["errors", fails]].forEach(function (pair) {
      var pts = pair[1].map(function (v, j) {
        return (slots - pair[1].length + j + 1) + "," + (23 - (22 * v) / max).toFixed(1);
      });
      var line = document.createElementNS(ns, "polyline");
      line.setAttribute("class", pair[0]);
      line.setAttribute("points", pts.join(" "));
      svg.appendChild(line);
    });
    return svg;
  }

  function stateCell(state) {
    var td = el("td");
    td.appendChild(el("span", "pill state-" + state, state));
    td.setAttribute("data-field", "state");
    td.setAttribute("data-state", state);
    return td;
  }

  function cell(field, text, cls) {
    var td = el("td", cls, text);
    td.setAttribute("data-field", field);
    return td;
  }

  function row(c, now) {
    var ring = record(c, now), r = rates(ring);
    var tr = el("tr");
    tr.setAttribute("data-component", c.component);
    var name = cell("component", c.component);
    if (Array.isArray(c.keys) && c.keys.length) {
      name.appendChild(el("span", "keys", c.keys.join(", ")));
    }
    tr.appendChild(name);
    tr.appendChild(stateCell(c.state));
    var retry = cell("retry_after", human(c.retry_after_ms), "num");
    if (c.retry_after_ms !== null && c.retry_after_ms !== undefined) {
      countdowns.set(c.component, { until: now + c.retry_after_ms, cell: retry });
    } else {
      countdowns.delete(c.component);
    }
    tr.appendChild(retry);
    tr.appendChild(cell("error_rate", pct(r.errorRate), "num"));
    tr.appendChild(cell("call_rate", r.callRate === null ? "–" : r.callRate.toFixed(2), "num"));
    var sparkCell = cell("history");
    sparkCell.appendChild(spark(ring));
    tr.appendChild(sparkCell);
    tr.appendChild(cell("calls", c.calls, "num"));
    tr.appendChild(cell("failures", c.failures, "num"));
    var rej = c.rejections || {};
    var rejected = (rej.open || 0) + (rej.half_open_exhausted || 0) + (rej.global_open || 0) +
      (rej.forced_open || 0);
    tr.appendChild(cell("rejected", rejected, "num"));
    tr.appendChild(cell("time_in_state", c.time_in_state));
    var lt = c.last_transition;
    tr.appendChild(cell("last_transition",
      lt ? lt.from + " → " + lt.to + ": " + lt.reason + " (" + lt.ago + " ago)" : "–"));
    return tr;
  }

  function snapshot(data) {
    var now = Date.now();
    var rows = document.getElementById("rows");
    var fresh = document.createDocumentFragment();
    data.components.forEach(function (c) { fresh.appendChild(row(c, now)); });
    // A keyed family's keys are breakers too: one row each, named family[key].
    (data.families || []).forEach(function (f) {
      f.keys.forEach(function (k) { fresh.appendChild(row(k, now)); });
      if (f.overflowing) { fresh.appendChild(row(f.overflow, now)); }
    });
    rows.replaceChildren(fresh);
    var fleet = document.getElementById("fleet");
    if (data.fleet) {
      fleet.textContent = "fleet: " + (data.fleet.connected ? "connected" : "local mode") +
        ", " + data.fleet.refused_calls + " calls refused by quorum";
    } else {
      fleet.textContent = "";
    }
    var fuse = document.getElementById("fuse");
    fuse.textContent = "fuse: " + data.global.state;
    fuse.className = "pill state-" + data.global.state;
    fuse.setAttribute("data-state", data.global.state);
    document.getElementById("unhealthy").textContent =
      data.unhealthy + " of " + data.components.length + " unhealthy";
    var cf = data.config_file || {}, text = "config file: " + (cf.path || "none");
    if (cf.last_reload) {
      text += "; last reload: " + (cf.last_reload.kind === "file_refused"
        ? "refused: " + cf.last_reload.error : "ok");
    }
    document.getElementById("config").textContent = text;
  }

  function describe(ev) {
    if (ev.kind === "transition") return ev.from + " → " + ev.to + ": " + ev.reason;
    var parts = [ev.kind.replace(/_/g, " ")];
    if (ev.path) parts.push(ev.path);
    if (ev.error) parts.push(ev.error);
    if (ev.unknown_components && ev.unknown_components.length) {
      parts.push("unknown components: " + ev.unknown_components.join(", "));
    }
    return parts.join(": ");
  }

  function timeline(ev) {
    if (seen.has(ev.seq)) return;
    seen.add(ev.seq);
    var li = el("li");
    li.setAttribute("data-kind", ev.kind);
    li.appendChild(el("span", "when", new Date(ev.at_unix_ms).toLocaleTimeString()));
    li.appendChild(el("span", "what", ev.component || "config"));
    li.appendChild(el("span", "why", describe(ev)));
    var list = document.getElementById("timeline");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > TIMELINE) list.removeChild(list.lastChild);
  }

  function tick() {
    var now = Date.now();
    countdowns.forEach(function (c) { c.cell.textContent = human(Math.max(0, c.until - now)); });
  }

  function parse(e) {
    try { return JSON.parse(e.data); } catch (_) { return null; }
  }

  fetch(base + "events/recent").then(function (r) { return r.json(); }).then(function (d) {
    (d.events || []).forEach(timeline);
  }).catch(function () {});

  var conn = document.getElementById("conn");
  var source = new EventSource(base + "events");
  source.addEventListener("open", function () { conn.textContent = "live"; });
  source.addEventListener("error", function () { conn.textContent = "reconnecting…"; });
  source.addEventListener("snapshot", function (e) {
    var d = parse(e);
    if (d) { snapshot(d); conn.textContent = "live"; }
  });
  // A transition shows at once, on the timeline and in its row's state (the next snapshot
  // brings the rest of the row).
  function restate(ev) {
    var rows = document.querySelectorAll("tr[data-component]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-component") !== ev.component) continue;
      var old = rows[i].querySelector('[data-field="state"]');
      if (old) rows[i].replaceChild(stateCell(ev.to), old);
    }
    if (ev.component === "__global__") {
      var fuse = document.getElementById("fuse");
      fuse.textContent = "fuse: " + ev.to;
      fuse.className = "pill state-" + ev.to;
      fuse.setAttribute("data-state", ev.to);
    }
  }
  source.addEventListener("transition", function (e) {
    var d = parse(e);
    if (d) { timeline(d); restate(d); }
  });
  source.addEventListener("config", function (e) { var d = parse(e); if (d) timeline(d); });
  source.addEventListener("dropped", function () { conn.textContent = "fell behind; reconnecting…"; });
  setInterval(tick, 250);
});
