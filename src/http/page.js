"use strict";
const COLORS = { throttling: "#e8710a", authentication: "#b3261e", authorization: "#8e24aa", not_found: "#607d8b",
                 timeout: "#f9ab00", server: "#1967d2", bad_request: "#188038", unknown: "#9aa0a6" };
const OTHER_COLOR = "#444";

function plural(count, word) {
  return count + " " + word + (count === 1 ? "" : "s");
}

// A browser sends no Authorization header by itself: the page asks for the token when the API
// wants one, and keeps it in session storage, gone with the tab.
const TOKEN_KEY = "errwatch-api-token";

async function getJson(url) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(url, { headers });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    document.getElementById("token-section").hidden = false;
    throw new Error(token ? "the API token was not accepted; enter it again above" : "enter the API token above");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    // The target is the id the server logged this failure under: quote it when reporting.
    const detail = body && body.error ? body.error.message + " (ref " + body.error.target + ")" : response.statusText;
    throw new Error(detail);
  }
  return body;
}

// An error without a code is named by its status, as the API, the dashboards and errwatch
// lookup name it (code_label in src/store/queries.rs).
function codeLabel(code, status) {
  if (code) return code;
  return status == null ? "no code" : "HTTP " + status;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  // A narrow window shows each event as a block without the table's header: each value is
  // named by the label its header gives (page.css shows it).
  td.dataset.label = row.closest("table").tHead.rows[0].cells[td.cellIndex].textContent;
  return td;
}

document.getElementById("lookup").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = document.getElementById("correlation-id").value.trim();
  const status = document.getElementById("status");
  const table = document.getElementById("events");
  const body = table.tBodies[0];
  body.replaceChildren();
  table.hidden = true;
  status.className = "status";
  if (!id) { status.textContent = "Paste a correlation id first."; return; }
  status.textContent = "Looking up " + id + "…";
  try {
    const answer = await getJson("api/v1/correlations/" + encodeURIComponent(id));
    for (const e of answer.events) {
      const row = body.insertRow();
      // "2026-11-26T09:58:01.204Z" as "2026-11-26 09:58:01.204": the header says UTC, and at
      // the space the column wraps into date and time, which leaves the message more room.
      cell(row, (e.timestamp || "-").replace("T", " ").replace(/Z$/, ""), "mono");
      cell(row, e.service || "-", "nowrap");
      cell(row, ((e.method || "") + " " + (e.api || "-")).trim(), "mono");
      cell(row, e.http_status == null ? "-" : String(e.http_status), "mono");
      cell(row, codeLabel(e.code, e.http_status));
      const category = document.createElement("span");
      category.className = "pill";
      category.style.setProperty("--c", COLORS[e.category] || OTHER_COLOR);
      category.textContent = e.category;
      cell(row, "").append(category);
      cell(row, e.message, "message");
    }
    table.hidden = false;
    status.textContent = plural(answer.events.length, "event") + " for " + answer.correlation_id + ", oldest first";
  } catch (error) {
    status.className = "status error";
    status.textContent = error.message;
  }
});

let lastSeries = null;

/** Seconds per bar for each range: under two hundred bars, so that each is wide enough to see. */
const STEPS = { 1: 60, 6: 300, 24: 900, 168: 3600 };
/** The ranges offered, in hours, shortest first. */
const RANGES = Object.keys(STEPS).map(Number).sort((a, b) => a - b);
/** Fewer bars than this, and each would be a block as wide as a fifth of the chart. */
const MIN_BARS = 12;

function fetchSeries(hours, to) {
  return getJson("api/v1/errors/timeseries?from=" + (to - hours * 3600) + "&to=" + to +
    "&step=" + (STEPS[hours] || 3600));
}

/** The start of the first bucket that holds an error, or null when none does. */
function firstFilled(series) {
  const at = series.times.findIndex((_, i) => series.categories.some((c) => c.events[i] > 0));
  return at < 0 ? null : series.times[at];
}

/**
 * The series from its first bar with an error on (but at least MIN_BARS bars), so that the
 * empty hours before errwatch started, or before the first error, take no room.
 */
function fromFirstError(series) {
  const first = firstFilled(series);
  if (first === null) return series;
  const start = Math.max(0, Math.min(series.times.indexOf(first), series.times.length - MIN_BARS));
  return { ...series, times: series.times.slice(start),
           categories: series.categories.map((c) => ({ ...c, events: c.events.slice(start) })) };
}

async function drawChart() {
  const hours = Number(document.getElementById("hours").value);
  const to = Math.ceil(Date.now() / 60000) * 60;
  const status = document.getElementById("chart-status");
  try {
    let series = await fetchSeries(hours, to);
    // The selected range is the most shown: when a shorter one holds every error of it (a
    // fresh start), that one's finer bars are shown instead.
    const first = firstFilled(series);
    const fits = first === null ? hours : RANGES.find((range) => range <= hours && to - range * 3600 <= first);
    if (fits && fits < hours) series = await fetchSeries(fits, to);
    series = fromFirstError(series);
    lastSeries = series;
    paint(series);
    const total = series.categories.reduce((sum, c) => sum + c.events.reduce((a, b) => a + b, 0), 0);
    const since = series.times.length ? new Date(series.times[0] * 1000).toISOString().slice(11, 16) : "";
    status.className = "status";
    status.textContent = plural(total, "error") + " in the last " + plural(hours, "hour") +
      (first === null ? "" : ", shown from " + since) + ", one bar per " +
      plural(series.step_seconds / 60, "minute") + " (times in UTC)";
  } catch (error) {
    status.className = "status error";
    status.textContent = "Cannot load the chart: " + error.message;
  }
}

/**
 * Axis labels for counts up to `max`: steps of 1, 2 or 5 times a power of ten, whole numbers,
 * at most five of them above zero, the last at or above `max` so that no bar passes it.
 */
function roundTicks(max) {
  const rough = Math.max(1, max) / 4;
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough));
  const top = Math.max(step, Math.ceil(max / step) * step);
  const ticks = [];
  for (let value = 0; value <= top; value += step) ticks.push(value);
  return ticks;
}

/** The first of the usual tick intervals (seconds) that leaves room for each label. */
function tickInterval(span, width) {
  const fits = Math.max(2, Math.floor(width / 90));
  const steps = [300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  return steps.find((step) => span / step <= fits) || 86400;
}

function paint(series) {
  const canvas = document.getElementById("chart");
  // Drawn at the screen's pixel density and the width the page gives it, so that bars and
  // text stay sharp and the chart spans the section.
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const n = series.times.length;
  const totals = series.times.map((_, i) => series.categories.reduce((sum, c) => sum + c.events[i], 0));
  const ticks = roundTicks(Math.max(0, ...totals));
  const topValue = ticks[ticks.length - 1];
  ctx.font = "11px system-ui, sans-serif";
  // Room on the left for the widest count, however many digits it has.
  const left = Math.ceil(Math.max(...ticks.map((value) => ctx.measureText(String(value)).width))) + 12;
  const right = 8, top = 8, bottom = 22;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  const base = top + plotHeight;
  const yOf = (value) => Math.round(base - (value / topValue) * plotHeight);

  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const value of ticks) {
    const y = yOf(value);
    ctx.fillStyle = value === 0 ? "#80868b" : "#e3e6ea";
    ctx.fillRect(left, y, plotWidth, 1);
    ctx.fillStyle = "#5f6368";
    ctx.fillText(String(value), left - 6, y + 0.5);
  }

  // One stacked bar per bucket; whole pixels keep the colours exact. Each part ends where the
  // running total does, so rounding never adds up past the bar's true height, and a part of a
  // single error stays one pixel high at least, though never above the top line.
  const span = n * series.step_seconds;
  const barWidth = plotWidth / Math.max(1, n);
  series.times.forEach((_, i) => {
    const x = Math.round(left + i * barWidth);
    const w = Math.max(1, Math.round(left + (i + 1) * barWidth) - x - (barWidth > 3 ? 1 : 0));
    let below = base, sum = 0;
    for (const c of series.categories) {
      if (!c.events[i]) continue;
      sum += c.events[i];
      const y = Math.max(top, Math.min(below - 1, yOf(sum)));
      if (y >= below) continue;
      ctx.fillStyle = COLORS[c.category] || OTHER_COLOR;
      ctx.fillRect(x, y, w, below - y);
      below = y;
    }
  });

  // What was drawn, in numbers, so that it can be checked without reading pixels.
  if (n > 0) {
    canvas.dataset.yTicks = ticks.join(",");
    canvas.dataset.from = String(series.times[0]);
    canvas.dataset.to = String(series.times[0] + span);
    canvas.dataset.step = String(series.step_seconds);
  }

  // Time labels on round UTC times (hours, days) under the bars.
  if (n > 0) {
    const first = series.times[0];
    const interval = tickInterval(span, plotWidth);
    ctx.fillStyle = "#5f6368";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let t = Math.ceil(first / interval) * interval; t <= first + span; t += interval) {
      const x = left + ((t - first) / span) * plotWidth;
      const iso = new Date(t * 1000).toISOString();
      ctx.fillRect(Math.round(x), top + plotHeight, 1, 4);
      const label = interval >= 86400 ? iso.slice(5, 10) : iso.slice(11, 16);
      // A label at either end is moved in, not cut off by the canvas's edge.
      const half = ctx.measureText(label).width / 2;
      ctx.fillText(label, Math.min(Math.max(x, half), width - half), top + plotHeight + 6);
    }
  }

  if (totals.every((total) => total === 0)) {
    ctx.fillStyle = "#80868b";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.font = "13px system-ui, sans-serif";
    ctx.fillText("No errors in this range", left + plotWidth / 2, top + plotHeight / 2);
  }

  const legend = document.getElementById("legend");
  legend.replaceChildren(...series.categories.map((c) => {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = COLORS[c.category] || OTHER_COLOR;
    span.append(swatch, c.category + " " + c.events.reduce((a, b) => a + b, 0));
    return span;
  }));
}

document.getElementById("hours").addEventListener("change", drawChart);
document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const field = document.getElementById("token");
  const token = field.value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  field.value = "";
  document.getElementById("token-section").hidden = true;
  drawChart();
  if (document.getElementById("correlation-id").value.trim()) {
    document.getElementById("lookup").requestSubmit();
  }
});
window.addEventListener("resize", () => { if (lastSeries) paint(lastSeries); });
drawChart();
setInterval(drawChart, 30000);
