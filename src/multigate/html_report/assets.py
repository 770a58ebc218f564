"""The report page's inline stylesheet and script (no network, no libraries)."""

PAGE_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2430}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #d8dde4}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 7px;border-bottom:1px solid #e6e9ee;
text-align:left;vertical-align:top}th{background:#f3f5f8}
.meta{color:#5a6473}.fail{color:#b3261e;font-weight:600}.info{color:#5a6473}
.chart{position:relative;overflow-x:auto;max-width:100%}
.tip{position:absolute;display:none;background:#1d2430;color:#fff;padding:2px 6px;
border-radius:3px;font-size:12px;pointer-events:none;white-space:nowrap}
.legend span{margin-right:14px}.sw{display:inline-block;width:11px;height:11px;margin-right:4px;
vertical-align:-1px}.sw.present{background:#2e9e4f}.sw.partial{background:#e0a526}
.sw.missing{background:#d64541}.sw.holiday{background:#dfe2e6}.sw.closed_data{background:#7b4bb7}
figure.series{margin:8px 0 14px}figure.series figcaption{font-weight:600;font-size:13px}
.counts{margin:4px 0}
"""

PAGE_JS = r"""
(function () {
  "use strict";
  var COLORS = {P: "#2e9e4f", p: "#e0a526", M: "#d64541", H: "#dfe2e6", C: "#7b4bb7"};
  var NAMES = {P: "present", p: "partial", M: "missing", H: "exchange closed",
    C: "data on a closed day"};
  var STACK = ["P", "p", "C", "M"];  // top to bottom; a closed day takes no room
  var WIDTH = 1100;
  function inner(size) { return Math.max(size - (size > 3 ? 1 : 0), 1); }
  function load(id) { return JSON.parse(document.getElementById(id).textContent); }
  function parse(cell) {  // "P20H" -> {P: 20, H: 1}
    var out = {}, re = /([A-Za-z])(\d*)/g, m;
    while ((m = re.exec(cell)) !== null) out[m[1]] = m[2] ? parseInt(m[2], 10) : 1;
    return out;
  }
  function cell(d, r, c) {  // a row is a list of cells, or a string of one-day cells
    var line = d.cells[r], value = typeof line === "string" ? line.charAt(c) : line[c];
    return value === "." ? "" : (value || "");
  }
  function layout(d) {
    var cols = Math.max(d.sessions.length, 1), m = Math.max(d.symbols.length, 1);
    var few = cols <= 16;
    var cw = Math.max(1, Math.min(few ? 72 : 14, Math.floor(WIDTH / cols)));
    var ch = Math.max(2, Math.min(m <= 16 ? 20 : 14, Math.floor(600 / m)));
    return {cols: cols, cw: cw, ch: ch, label: ch >= 8 ? 110 : 0, top: 18};
  }
  function size(canvas, g, height) {
    canvas.width = Math.max(g.label + g.cw * g.cols + 4, g.label + 240);
    canvas.height = height;
  }
  function dates(ctx, d, g) {  // every column's date when they fit, else the first and last
    ctx.font = "11px sans-serif"; ctx.fillStyle = "#5a6473";
    var n = d.sessions.length;
    if (!n) return;
    var widest = 0;
    for (var i = 0; i < n; i++) widest = Math.max(widest, ctx.measureText(d.sessions[i]).width);
    if (widest + 4 <= g.cw) {
      for (var k = 0; k < n; k++) ctx.fillText(d.sessions[k], g.label + k * g.cw, 12);
      return;
    }
    var first = d.sessions[0], last = d.sessions[n - 1];
    var right = g.label + g.cw * g.cols, w = ctx.measureText(last).width;
    if (n === 1) {
      ctx.fillText(first, g.label, 12);
    } else if (right - w >= g.label + ctx.measureText(first).width + 8) {
      ctx.fillText(first, g.label, 12);
      ctx.fillText(last, right - w, 12);
    } else {
      ctx.fillText(first + " .. " + last, g.label, 12);
    }
  }
  function paint(ctx, counts, x, y, w, h) {  // a column's days as stacked bands
    var total = 0, k;
    for (k = 0; k < STACK.length; k++) total += counts[STACK[k]] || 0;
    if (!total) {
      if (!counts.H) return false;
      ctx.fillStyle = COLORS.H; ctx.fillRect(x, y, w, h);
      return true;
    }
    var heights = [], used = 0;
    for (k = 0; k < STACK.length; k++) {
      var n = counts[STACK[k]] || 0;
      var band = n ? Math.max(1, Math.round(h * n / total)) : 0;
      heights.push(band); used += band;
    }
    for (k = 0; used > h && k < STACK.length; k++) {  // take the excess from the largest
      var big = heights.indexOf(Math.max.apply(null, heights)), cut = Math.min(used - h,
        heights[big] - 1);
      heights[big] -= cut; used -= cut;
    }
    var top = y;
    for (k = 0; k < STACK.length; k++) {
      if (!heights[k]) continue;
      ctx.fillStyle = COLORS[STACK[k]];
      ctx.fillRect(x, top, w, Math.min(heights[k], y + h - top));
      top += heights[k];
    }
    return true;
  }
  function describe(counts) {
    var parts = [];
    ["P", "p", "M", "C", "H"].forEach(function (k) {
      if (counts[k]) parts.push(counts[k] + " " + NAMES[k]);
    });
    return parts.join(", ");
  }
  function heatmap(canvas) {
    var d = load(canvas.dataset.source), g = layout(d), ctx = canvas.getContext("2d");
    size(canvas, g, g.top + g.ch * d.symbols.length + 4);
    dates(ctx, d, g);
    var drawn = 0, parsed = [];
    for (var r = 0; r < d.symbols.length; r++) {
      var y = g.top + r * g.ch, line = [];
      if (g.label) {
        ctx.fillStyle = "#1d2430"; ctx.font = "11px sans-serif";
        ctx.fillText(d.symbols[r].slice(0, 16), 0, y + g.ch - 3);
      }
      for (var c = 0; c < g.cols; c++) {
        var counts = parse(cell(d, r, c));
        line.push(counts);
        if (paint(ctx, counts, g.label + c * g.cw, y, inner(g.cw), inner(g.ch))) drawn++;
      }
      parsed.push(line);
    }
    canvas.dataset.drawn = String(drawn);
    var tip = canvas.parentNode.querySelector(".tip");
    canvas.addEventListener("mousemove", function (e) {
      var box = canvas.getBoundingClientRect();
      var c = Math.floor((e.clientX - box.left - g.label) / g.cw);
      var r = Math.floor((e.clientY - box.top - g.top) / g.ch);
      var outside = c < 0 || r < 0 || r >= d.symbols.length || c >= g.cols;
      if (outside || !cell(d, r, c)) { tip.style.display = "none"; return; }
      var when = (d.period !== "day" ? d.period + " of " : "") + d.sessions[c];
      tip.textContent = d.symbols[r] + " " + when + ": " + describe(parsed[r][c]) + "; " +
        d.rows[r][c].toLocaleString() + " rows";
      tip.style.left = (e.clientX - box.left + 12) + "px";
      tip.style.top = (e.clientY - box.top + 12) + "px";
      tip.style.display = "block";
    });
    canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  }
  function rows(canvas) {
    var d = load(canvas.dataset.source), g = layout(d), ctx = canvas.getContext("2d");
    var height = 80, max = Math.max.apply(null, d.totals.concat([1]));
    size(canvas, g, height + 16);
    ctx.font = "11px sans-serif"; ctx.fillStyle = "#5a6473";
    ctx.fillText("max " + max.toLocaleString() + " rows", g.label, 11);
    ctx.fillStyle = "#3b6fb6";
    var drawn = 0;
    for (var k = 0; k < d.totals.length; k++) {
      var h = Math.round(height * d.totals[k] / max);
      if (h > 0) {
        ctx.fillRect(g.label + k * g.cw, 16 + height - h, inner(g.cw), h);
        drawn++;
      }
    }
    canvas.dataset.drawn = String(drawn);
  }
  function stamp(ms) { return new Date(ms).toISOString().slice(0, 16).replace("T", " "); }
  function short(v) { return Math.abs(v) >= 1e6 ? (v / 1e6).toFixed(1) + "M" : v.toLocaleString(); }
  function price(canvas) {
    var d = load(canvas.dataset.source), ctx = canvas.getContext("2d");
    var W = 900, left = 70, top = 8, ph = 130, gap = 6, vh = d.v.some(function (v) {
      return v !== null; }) ? 40 : 0, bottom = 16;
    canvas.width = W; canvas.height = top + ph + gap + vh + bottom;
    var t0 = d.t[0], t1 = d.t[d.t.length - 1], span = Math.max(t1 - t0, 1);
    var defined = d.c.filter(function (v) { return v !== null; });
    var lo = Math.min.apply(null, defined), hi = Math.max.apply(null, defined);
    if (!defined.length) { lo = 0; hi = 1; }
    if (hi === lo) { hi += 1; lo -= 1; }
    var vmax = Math.max.apply(null, d.v.map(function (v) { return v || 0; }).concat([1]));
    var plot = W - left - 8;
    function x(t) { return left + plot * (t - t0) / span; }
    function y(v) { return top + ph - ph * (v - lo) / (hi - lo); }
    ctx.font = "11px sans-serif"; ctx.fillStyle = "#5a6473";
    ctx.fillText(hi.toLocaleString(), 2, top + 10);
    ctx.fillText(lo.toLocaleString(), 2, top + ph);
    ctx.fillText(stamp(t0), left, canvas.height - 3);
    var end = stamp(t1);
    ctx.fillText(end, W - 8 - ctx.measureText(end).width, canvas.height - 3);
    ctx.strokeStyle = "#d8dde4"; ctx.strokeRect(left, top, plot, ph);
    var step = d.w || span, i;  // the bucket's width: a longer gap breaks the line
    var points = 0, segments = 0;
    ctx.strokeStyle = "#1d4f91"; ctx.lineWidth = 1.2; ctx.beginPath();
    var open = false;
    for (i = 0; i < d.t.length; i++) {
      if (d.c[i] === null) { open = false; continue; }
      var broken = i > 0 && d.t[i] - d.t[i - 1] > 3 * step;  // the market closed: no line
      if (!open || broken) {
        ctx.moveTo(x(d.t[i]), y(d.c[i]));
      } else {
        ctx.lineTo(x(d.t[i]), y(d.c[i]));
        segments++;
      }
      if (!open && (i + 1 >= d.t.length || d.c[i + 1] === null)) {
        ctx.fillStyle = "#1d4f91"; ctx.fillRect(x(d.t[i]) - 1, y(d.c[i]) - 1, 2, 2);
      }
      open = true; points++;
    }
    ctx.stroke();
    if (vh) {
      var base = top + ph + gap + vh, bw = Math.max(1, Math.floor(plot * step / span) - 1);
      ctx.fillStyle = "#9bb3d6";
      for (i = 0; i < d.t.length; i++) {
        var h = Math.round(vh * (d.v[i] || 0) / vmax);
        if (h > 0) ctx.fillRect(x(d.t[i]), base - h, bw, h);
      }
      ctx.fillStyle = "#5a6473"; ctx.fillText("vol " + short(vmax), 2, base);
    }
    canvas.dataset.drawn = String(points);
    canvas.dataset.segments = String(segments);
    var tip = canvas.parentNode.querySelector(".tip");
    canvas.addEventListener("mousemove", function (e) {
      var box = canvas.getBoundingClientRect();
      var at = t0 + (e.clientX - box.left - left) / plot * span;
      var best = -1, dist = Infinity;
      for (var k = 0; k < d.t.length; k++) {
        var dd = Math.abs(d.t[k] - at);
        if (dd < dist) { dist = dd; best = k; }
      }
      if (best < 0 || e.clientX - box.left < left) { tip.style.display = "none"; return; }
      tip.textContent = stamp(d.t[best]) + " UTC: " +
        (d.c[best] === null ? "no price" : d.c[best].toLocaleString()) +
        (d.v[best] === null ? "" : ", volume " + d.v[best].toLocaleString());
      tip.style.left = (e.clientX - box.left + 12) + "px";
      tip.style.top = (e.clientY - box.top + 12) + "px";
      tip.style.display = "block";
    });
    canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  }
  document.querySelectorAll("canvas.heatmap").forEach(heatmap);
  document.querySelectorAll("canvas.rows").forEach(rows);
  document.querySelectorAll("canvas.price").forEach(price);
})();
"""
