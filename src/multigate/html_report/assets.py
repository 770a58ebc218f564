"""The report page's inline stylesheet and script (no network, no libraries)."""

PAGE_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2430}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #d8dde4}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 10px;border-bottom:1px solid #e6e9ee;
text-align:left;vertical-align:top}th{background:#f3f5f8}
.meta{color:#5a6473}.fail{color:#b3261e;font-weight:600}.info{color:#5a6473}
.chart{position:relative;overflow-x:auto;max-width:100%}
.tip{position:absolute;display:none;background:#1d2430;color:#fff;padding:2px 6px;
border-radius:3px;font-size:12px;pointer-events:none;white-space:nowrap}
.legend span{margin-right:14px}.sw{display:inline-block;width:11px;height:11px;margin-right:4px;
vertical-align:-1px}.sw.present{background:#2e9e4f}.sw.partial{background:#e0a526}
.sw.missing{background:#d64541}.sw.holiday{background:#b8bcc2}.sw.closed_data{background:#7b4bb7}
"""

PAGE_JS = r"""
(function () {
  "use strict";
  var COLORS = {P: "#2e9e4f", p: "#e0a526", M: "#d64541", H: "#b8bcc2", C: "#7b4bb7"};
  var NAMES = {P: "present", p: "partial", M: "missing", H: "holiday", C: "data on a closed day"};
  var RANK = {".": 0, P: 1, H: 2, p: 3, C: 4, M: 5};  // a binned column shows its worst day
  var WIDTH = 1100;
  function inner(size) { return Math.max(size - (size > 3 ? 1 : 0), 1); }
  function load(id) { return JSON.parse(document.getElementById(id).textContent); }
  function layout(d) {
    var n = Math.max(d.sessions.length, 1), m = Math.max(d.symbols.length, 1);
    var bin = Math.max(1, Math.ceil(n / WIDTH)), cols = Math.ceil(n / bin);
    var cw = Math.max(1, Math.min(14, Math.floor(WIDTH / cols)));
    var ch = Math.max(2, Math.min(14, Math.floor(600 / m)));
    return {bin: bin, cols: cols, cw: cw, ch: ch, label: ch >= 8 ? 110 : 0, top: 18};
  }
  function worst(row, g, c) {
    var best = ".";
    for (var i = c * g.bin; i < Math.min((c + 1) * g.bin, row.length); i++) {
      var code = row.charAt(i);
      if (RANK[code] > RANK[best]) best = code;
    }
    return best;
  }
  function size(canvas, g, height) {
    canvas.width = Math.max(g.label + g.cw * g.cols + 4, g.label + 240);
    canvas.height = height;
  }
  function heatmap(canvas) {
    var d = load(canvas.dataset.source), g = layout(d), ctx = canvas.getContext("2d");
    size(canvas, g, g.top + g.ch * d.symbols.length + 4);
    ctx.font = "11px sans-serif"; ctx.fillStyle = "#5a6473";
    if (d.sessions.length) {  // over the cells: the first at its left, the last ending
      var first = d.sessions[0], last = d.sessions[d.sessions.length - 1];  // at its right
      var right = g.label + g.cw * g.cols, w = ctx.measureText(last).width;
      if (d.sessions.length === 1) {
        ctx.fillText(first, g.label, 12);
      } else if (right - w >= g.label + ctx.measureText(first).width + 8) {
        ctx.fillText(first, g.label, 12);
        ctx.fillText(last, right - w, 12);
      } else {
        ctx.fillText(first + " .. " + last, g.label, 12);  // too few cells for two labels
      }
    }
    var drawn = 0, shown = [];
    for (var r = 0; r < d.symbols.length; r++) {
      var y = g.top + r * g.ch, line = [];
      if (g.label) {
        ctx.fillStyle = "#1d2430";
        ctx.fillText(d.symbols[r].slice(0, 16), 0, y + g.ch - 2);
      }
      for (var c = 0; c < g.cols; c++) {
        var code = worst(d.cells[r], g, c), color = COLORS[code];
        line.push(code);
        if (!color) continue;
        ctx.fillStyle = color;
        ctx.fillRect(g.label + c * g.cw, y, inner(g.cw), inner(g.ch));
        drawn++;
      }
      shown.push(line);
    }
    canvas.dataset.drawn = String(drawn);
    var tip = canvas.parentNode.querySelector(".tip");
    canvas.addEventListener("mousemove", function (e) {
      var box = canvas.getBoundingClientRect();
      var c = Math.floor((e.clientX - box.left - g.label) / g.cw);
      var r = Math.floor((e.clientY - box.top - g.top) / g.ch);
      var outside = c < 0 || r < 0 || r >= d.symbols.length || c >= g.cols;
      if (outside || shown[r][c] === ".") { tip.style.display = "none"; return; }
      var first = c * g.bin, end = Math.min(first + g.bin, d.sessions.length) - 1;
      var rows = 0;
      for (var i = first; i <= end; i++) rows += d.rows[r][i];
      var when = (d.period && d.period !== "day" ? d.period + " of " : "") +
        d.sessions[first] + (end > first ? " .. " + d.sessions[end] : "");
      tip.textContent = d.symbols[r] + " " + when + ": " + NAMES[shown[r][c]] +
        (end > first || (d.period && d.period !== "day") ? " (worst day)" : "") + ", " +
        rows.toLocaleString() + " rows";
      tip.style.left = (e.clientX - box.left + 12) + "px";
      tip.style.top = (e.clientY - box.top + 12) + "px";
      tip.style.display = "block";
    });
    canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  }
  function rows(canvas) {
    var d = load(canvas.dataset.source), g = layout(d), ctx = canvas.getContext("2d");
    var height = 80, sums = [];
    for (var c = 0; c < g.cols; c++) {
      var total = 0;
      for (var i = c * g.bin; i < Math.min((c + 1) * g.bin, d.totals.length); i++) {
        total = Math.max(total, d.totals[i]);
      }
      sums.push(total);
    }
    var max = Math.max.apply(null, sums.concat([1]));
    size(canvas, g, height + 16);
    ctx.font = "11px sans-serif"; ctx.fillStyle = "#5a6473";
    ctx.fillText("max " + max.toLocaleString() + " rows", g.label, 11);
    ctx.fillStyle = "#3b6fb6";
    var drawn = 0;
    for (var k = 0; k < sums.length; k++) {
      var h = Math.round(height * sums[k] / max);
      if (h > 0) {
        ctx.fillRect(g.label + k * g.cw, 16 + height - h, inner(g.cw), h);
        drawn++;
      }
    }
    canvas.dataset.drawn = String(drawn);
  }
  document.querySelectorAll("canvas.heatmap").forEach(heatmap);
  document.querySelectorAll("canvas.rows").forEach(rows);
})();
"""
