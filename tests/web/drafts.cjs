// Drives Debian's Chromium through the « Rédiger » page of a running `siagen serve` whose model
// `scribe` is a scripted OpenAI-compatible upstream (crates/siagen/tests/web.rs starts both and
// creates alice, clinician, password `alice-password-123`).
// Environment: SIAGEN_URL, SIAGEN_SHOTS, SIAGEN_CHROMIUM; playwright-core through NODE_PATH.
"use strict";

const { step, check, shot, login, run } = require("./harness.cjs");

run("drafts", async (page, errors) => {
  step("login");
  await login(page, "alice");
  check((await page.locator("header nav a", { hasText: "Rédiger" }).count()) === 1, "nav entry");

  step("form");
  await page.click("header nav a:has-text('Rédiger')");
  check((await page.locator("h1", { hasText: "Rédiger un document" }).count()) === 1, "page title");
  check((await page.locator("#kind option").count()) === 6, "six kinds offered");
  check((await page.locator("#draft-form input[name=csrf]").count()) === 1, "CSRF field");
  await page.selectOption("#kind", "crh");
  await page.fill("#patient_ref", "P-0042");
  await page.selectOption("#model", "scribe");
  await page.fill("#title_1", "Observation d'entrée");
  await page.fill("#text_1", process.env.NOTE_1);
  await page.fill("#title_2", "Ordonnance de sortie");
  await page.fill("#text_2", process.env.NOTE_2);

  step("draft");
  await Promise.all([page.waitForLoadState("load"), page.click("#btn-draft")]);
  check((await page.locator("#draft").count()) === 1, "a draft is shown");
  check((await page.locator("#missing", { hasText: "Antécédents" }).count()) === 1, "missing mandatory section at the top");
  check((await page.locator(".alert-interaction", { hasText: "AMIODARONE" }).count()) >= 1 ||
        (await page.locator(".alert-interaction", { hasText: "amiodarone" }).count()) >= 1, "interaction alert");
  const statuses = await page.locator("#draft .sentence").evaluateAll((els) => els.map((e) => e.dataset.status));
  check(statuses.includes("supported") && statuses.includes("contradicted") && statuses.includes("unsupported"), `statuses ${statuses}`);
  check((await page.locator("#section-antecedents[data-missing=true]").count()) === 1, "missing section marked");
  await shot(page, "50-rediger.png");

  step("hover links the source");
  const supported = page.locator("#section-traitements_sortie .sentence[data-status=supported]").first();
  const src = (await supported.getAttribute("data-sources")).split(" ")[0];
  check(src.startsWith("src-n2-"), `source in the prescription: ${src}`);
  await supported.hover();
  check((await page.locator(`#${src}.lit`).count()) === 1, "the passage lights on hover");
  await page.mouse.move(0, 0);
  check((await page.locator(`#${src}.lit`).count()) === 0, "and goes out");

  step("keyboard");
  const first = page.locator("#draft .sentence[data-status=supported]").first();
  await first.focus();
  const firstSrc = (await first.getAttribute("data-sources")).split(" ")[0];
  check((await page.locator(`#${firstSrc}.lit`).count()) === 1, "focus lights the passage too");
  await page.keyboard.press("Tab");
  check((await page.locator(`#${firstSrc}.lit`).count()) === 0, "Tab moves on");

  step("what the model received");
  await page.click("#model-input summary");
  const input = await page.locator("#model-input").textContent();
  check(input.includes("Section à rédiger"), "the messages are shown");
  check(!input.includes("DUPONT"), "no identifier in what the model received");
  await shot(page, "51-rediger-modele.png");

  step("open the draft");
  await Promise.all([page.waitForLoadState("load"), page.click("#open-draft")]);
  check(/\/documents\/\d+/.test(page.url()), `the draft's page: ${page.url()}`);
  check((await page.locator("body", { hasText: "Brouillon" }).count()) >= 1, "a draft");
  check(errors.length === 0, `no script or CSP error: ${errors.join(" | ")}`);
  console.log("drafts: all ok");
});
