// What every browser scenario shares: Debian's Chromium launched the way this machine needs
// (headless, no sandbox as root, no background networking), a French page, the errors the page
// shows collected, the current step named in every failed check, and a screenshot of the page
// when a scenario fails. Run by crates/siagen/tests/web.rs. Environment: SIAGEN_URL (the server),
// SIAGEN_SHOTS (folder for the screenshots), SIAGEN_CHROMIUM; playwright-core through NODE_PATH.
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const BASE = process.env.SIAGEN_URL;
const SHOTS = process.env.SIAGEN_SHOTS;

let current = "start";

/// Names the part of the scenario that runs now (it prefixes every failed check).
function step(name) {
  current = name;
}

function check(cond, msg) {
  if (!cond) {
    throw new Error(`[${current}] ${msg}`);
  }
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
}

async function text(page, sel) {
  return (await page.locator(sel).first().textContent()) || "";
}

async function login(page, user, password) {
  await page.goto(`${BASE}/login`);
  await page.fill("#username", user);
  await page.fill("#password", password || `${user}-password-123`);
  await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit].primary")]);
}

/// Runs `body(page, errors)` in a fresh browser and exits non-zero on failure, leaving
/// `zz-echec-NAME.png` in SHOTS. `errors` collects console and page errors and, with
/// `responses` (the default), every answer of status 400 or more: a scenario that provokes
/// refusals on purpose filters them or turns `responses` off. Confirmation dialogs are accepted.
function run(name, body, { responses = true } = {}) {
  const failure = `zz-echec-${name}.png`;
  const scenario = async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    fs.rmSync(path.join(SHOTS, failure), { force: true });
    const browser = await chromium.launch({
      executablePath: process.env.SIAGEN_CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=fr-FR",
      ],
    });
    try {
      const context = await browser.newContext({
        viewport: { width: 1280, height: 900 },
        acceptDownloads: true,
        locale: "fr-FR",
      });
      const page = await context.newPage();
      const errors = [];
      page.on("console", (m) => {
        // Failed loads are logged by Chromium as console errors; the response handler reports
        // them with their address, when wanted.
        if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
          errors.push(m.text());
        }
      });
      if (responses) {
        page.on("response", (r) => {
          // The browser asks for /favicon.ico by itself; the workspace has none.
          if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) {
            errors.push(`${r.status()} ${r.url()}`);
          }
        });
      }
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("dialog", (d) => d.accept());
      try {
        await body(page, errors);
      } catch (e) {
        try {
          await shot(page, failure);
        } catch (_) {
          // The failure itself is what matters.
        }
        throw e;
      }
    } finally {
      await browser.close();
    }
  };
  scenario().catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
}

module.exports = { BASE, SHOTS, step, check, shot, text, login, run };
