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
// Writes <screenshot dir>/lookup.png (the incident's events and the chart) and
// <screenshot dir>/no-events.png (the answer for the unknown id).

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

// Debian's package; never a browser build that Playwright would download.
const CHROMIUM = process.env.ERRWATCH_CHROMIUM || "/usr/bin/chromium";
// Long enough for a loaded machine running the test suite on two cores, short enough that a
// page that never answers fails the test instead of hanging it.
const TIMEOUT_MS = 30_000;

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

const report = { page_errors: [], screenshots: [] };
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
  await screenshot(page, "lookup.png");
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
}
