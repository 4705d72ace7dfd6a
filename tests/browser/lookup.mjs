// Uses the on-call page as a person does, in Debian's Chromium: waits for the chart, pastes a
// correlation id and submits it, then submits an id that is not stored, and reports what the
// page showed as one JSON object on standard output, with what the page's Content-Security-Policy
// refused. The caller (tests/it/page.rs) decides
// whether that is right; this script fails only when the page never reaches a state to report
// (a wait timed out, the browser would not start).
//
//   node tests/browser/lookup.mjs <page url> <correlation id> <unknown id> <screenshot dir> [token]
//
// With a token, the page is first expected to ask for it (errwatch started with one): the
// script waits for the token form, types the token in and goes on.
// After the lookup, the page is measured at each of WIDTHS (does anything spill out of the
// window or out of its section, what did the chart draw) and photographed there as
// <screenshot dir>/lookup-<width>.png; <screenshot dir>/no-events.png is the answer for the
// unknown id, at the last width.

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

// Debian's package; never a browser build that Playwright would download.
const CHROMIUM = process.env.ERRWATCH_CHROMIUM || "/usr/bin/chromium";
// Long enough for a loaded machine running the test suite on two cores, short enough that a
// page that never answers fails the test instead of hanging it.
const TIMEOUT_MS = 30_000;
// A laptop's window and a phone's.
const WIDTHS = [1280, 390];

function fail(message) {
  process.stderr.write(`lookup.mjs: ${message}\n`);
  process.exit(1);
}

const [url, id, unknownId, screenshotDir, token] = process.argv.slice(2);
if (!url || !id || !unknownId || !screenshotDir) {
  fail("usage: node lookup.mjs <page url> <correlation id> <unknown id> <screenshot dir>");
}
if (!existsSync(CHROMIUM)) {
  fail(`no Chromium at ${CHROMIUM}: install Debian's chromium package (scripts/test.sh does)`);
}
mkdirSync(screenshotDir, { recursive: true });

const browser = await chromium
  .launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: TIMEOUT_MS,
    // Playwright adds --no-sandbox itself (running as root needs it) and a fresh, empty profile
    // directory of its own. The rest keeps Chromium from reaching out to the network and from
    // depending on a GPU, which these machines do not have.
    args: [
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  })
  .catch((error) => fail(`cannot start Chromium at ${CHROMIUM}: ${error.message}`));

const report = { page_errors: [], screenshots: [], widths: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(TIMEOUT_MS);
  // A script error is something the user would be left with; the caller requires none.
  // Chromium also logs every answer of 400 and above as a console error ("Failed to load
  // resource"); those are left out, since the unknown id is answered with a 404 on purpose
  // and any other failed request shows on the page, where the caller checks it.
  page.on("pageerror", (error) => report.page_errors.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      report.page_errors.push(`console: ${message.text()}`);
    }
  });

  // What the page's Content-Security-Policy refused (a script, a style, a request), reported
  // from inside the page as it happens, so that a refusal shows even when a wait times out.
  await page.exposeBinding("reportViolation", (_source, text) => report.page_errors.push(`refused by policy: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      window.reportViolation(`${event.effectiveDirective} ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`);
    });
  });

  const response = await page.goto(url);
  report.page_status = response ? response.status() : null;
  report.page_policy = response ? (await response.allHeaders())["content-security-policy"] || null : null;
  if (token) {
    await page.locator("#token-section").waitFor({ state: "visible", timeout: TIMEOUT_MS });
    report.token_asked = true;
    await page.locator("#token").fill(token);
    await page.getByRole("button", { name: "Use token" }).click();
    report.token_section_hidden_after = await page.locator("#token-section").isHidden();
    // Until the chart is drawn again with the token, its status still asks for one.
    await page.waitForFunction(() => !document.getElementById("chart-status").textContent.includes("API token"), null, {
      timeout: TIMEOUT_MS,
    });
  }

  report.chart = await chartState(page);
  report.lookup = await lookUp(page, id, () => page.getByRole("button", { name: "Look up" }).click());
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    // The page repaints the chart on resize; two frames later that has happened.
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    const seen = { width, ...(await layout(page)), chart: await chartDrawing(page) };
    seen.screenshot = await screenshot(page, `lookup-${width}.png`);
    report.widths.push(seen);
  }
  // The second lookup submits with Enter, the other way people do it.
  report.unknown = await lookUp(page, unknownId, () => page.locator("#correlation-id").press("Enter"));
  await screenshot(page, "no-events.png");
} catch (error) {
  fail(`${error.message}\nwhat was seen so far: ${JSON.stringify(report)}`);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + "\n");

/** Waits until the chart has loaded, then reads its status, legend and painted bars. */
async function chartState(page) {
  await page.waitForFunction(() => document.getElementById("chart-status").textContent.trim() !== "", null, {
    timeout: TIMEOUT_MS,
  });
  return page.evaluate(() => {
    const status = document.getElementById("chart-status");
    const canvas = document.getElementById("chart");
    const legend = [...document.querySelectorAll("#legend > *")];
    // Bars are painted in the legend's colours; counting pixels of those colours tells a
    // painted chart from an empty canvas whatever the layout.
    const toRgb = (color) => color.match(/\d+/g).slice(0, 3).map(Number).join(",");
    const colors = new Set(legend.map((entry) => toRgb(getComputedStyle(entry.querySelector("i")).backgroundColor)));
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let barPixels = 0;
    for (let at = 0; at < pixels.length; at += 4) {
      if (pixels[at + 3] === 255 && colors.has(`${pixels[at]},${pixels[at + 1]},${pixels[at + 2]}`)) barPixels += 1;
    }
    return {
      status: status.textContent.trim(),
      status_is_error: status.classList.contains("error"),
      legend: legend.map((entry) => entry.textContent.trim()),
      bar_pixels: barPixels,
    };
  });
}

/** Pastes `value` into the id field, submits with `submit`, and reads the answer shown. */
async function lookUp(page, value, submit) {
  await page.locator("#correlation-id").fill(value);
  // The status reads "Looking up…" from the submit until the answer is shown; waiting for the
  // API's answer first means a status left over from an earlier lookup is never read.
  await Promise.all([page.waitForResponse((response) => response.url().includes("/api/v1/correlations/")), submit()]);
  await page.waitForFunction(
    () => {
      const text = document.getElementById("status").textContent.trim();
      return text !== "" && !text.startsWith("Looking up");
    },
    null,
    { timeout: TIMEOUT_MS },
  );
  return page.evaluate(() => {
    const status = document.getElementById("status");
    const table = document.getElementById("events");
    return {
      status: status.textContent.trim(),
      status_is_error: status.classList.contains("error"),
      table_visible: !table.hidden && table.getBoundingClientRect().height > 0,
      columns: [...table.tHead.rows[0].cells].map((cell) => cell.textContent.trim()),
      rows: [...table.tBodies[0].rows].map((row) => [...row.cells].map((cell) => cell.textContent.trim())),
    };
  });
}

async function screenshot(page, name) {
  const path = join(screenshotDir, name);
  await page.screenshot({ path, fullPage: true });
  report.screenshots.push(path);
  return path;
}

/**
 * How the page fits the window: the document's width against the window's, every element of
 * the header and of each section whose box reaches outside its section (or a section outside
 * the window), every table cell whose text is wider than the cell, and how many lines the
 * tallest cell takes.
 */
async function layout(page) {
  return page.evaluate(() => {
    const name = (element) =>
      element.tagName.toLowerCase() + (element.id ? `#${element.id}` : "") +
      (element.className && typeof element.className === "string" ? `.${element.className.split(" ").join(".")}` : "");
    const edges = (box) => `${Math.round(box.left)}..${Math.round(box.right)} x ${Math.round(box.top)}..${Math.round(box.bottom)}`;
    // Half a pixel either way is rounding, not overflow.
    const inside = (inner, outer) =>
      inner.left >= outer.left - 0.5 && inner.right <= outer.right + 0.5 &&
      inner.top >= outer.top - 0.5 && inner.bottom <= outer.bottom + 0.5;
    const viewport = { left: 0, right: window.innerWidth, top: -Infinity, bottom: Infinity };
    const outside = [];
    let checked = 0;
    for (const section of document.querySelectorAll("header, section")) {
      if (section.getClientRects().length === 0) continue;
      const box = section.getBoundingClientRect();
      if (!inside(box, viewport)) outside.push(`${name(section)} at ${edges(box)} leaves the window 0..${window.innerWidth}`);
      for (const element of section.querySelectorAll("*")) {
        if (element.getClientRects().length === 0) continue;
        checked += 1;
        const own = element.getBoundingClientRect();
        if (!inside(own, box)) outside.push(`${name(element)} at ${edges(own)} leaves ${name(section)} at ${edges(box)}`);
      }
    }
    const cells = [...document.querySelectorAll("#events td, #events th")].filter((cell) => cell.getClientRects().length);
    const overflowing = cells
      .filter((cell) => cell.scrollWidth > cell.clientWidth + 1)
      .map((cell) => `${cell.textContent.slice(0, 40)}: ${cell.scrollWidth} px in ${cell.clientWidth}`);
    const lines = (cell) => {
      const style = getComputedStyle(cell);
      const content = cell.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
      return Math.round(content / parseFloat(style.lineHeight));
    };
    return {
      inner_width: window.innerWidth,
      scroll_width: document.documentElement.scrollWidth,
      elements_checked: checked,
      cells_checked: cells.length,
      outside,
      cells_overflowing: overflowing,
      most_cell_lines: Math.max(0, ...cells.map(lines)),
    };
  });
}

/**
 * What the chart drew: the y-axis labels and the time range, as the canvas states them in its
 * data attributes, and, read from the pixels, where the tallest bar and the top grid line are.
 */
async function chartDrawing(page) {
  return page.evaluate(() => {
    const canvas = document.getElementById("chart");
    const numbers = (text) => (text ? text.split(",").map(Number) : null);
    const toRgb = (color) => color.match(/\d+/g).slice(0, 3).map(Number).join(",");
    const bars = new Set(
      [...document.querySelectorAll("#legend i")].map((swatch) => toRgb(getComputedStyle(swatch).backgroundColor)),
    );
    // page.js paints the grid lines #e3e6ea.
    const grid = "227,230,234";
    const { width, height } = canvas;
    const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
    let barTop = null;
    let gridTop = null;
    for (let y = 0; y < height; y += 1) {
      let gridPixels = 0;
      for (let x = 0; x < width; x += 1) {
        const at = (y * width + x) * 4;
        if (pixels[at + 3] !== 255) continue;
        const rgb = `${pixels[at]},${pixels[at + 1]},${pixels[at + 2]}`;
        if (bars.has(rgb) && barTop === null) barTop = y;
        if (rgb === grid) gridPixels += 1;
      }
      // A grid line crosses the plot; a quarter of the width is a line even where bars cover it.
      if (gridTop === null && gridPixels >= width / 4) gridTop = y;
    }
    const ratio = width / canvas.clientWidth;
    const css = (y) => (y === null ? null : y / ratio);
    return {
      y_ticks: numbers(canvas.dataset.yTicks),
      from: numbers(canvas.dataset.from)?.[0] ?? null,
      to: numbers(canvas.dataset.to)?.[0] ?? null,
      step: numbers(canvas.dataset.step)?.[0] ?? null,
      selected_hours: Number(document.getElementById("hours").value),
      tallest_bar_top: css(barTop),
      top_grid_line: css(gridTop),
    };
  });
}
