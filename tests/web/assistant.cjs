// Drives Debian's Chromium through the assistant, pseudonymisation and energy pages of a running
// `siagen serve` started with the suite's tiny models. Run by crates/siagen/tests/web.rs, which
// creates alice (clinician, password `alice-password-123`). Environment: SIAGEN_URL,
// SIAGEN_SHOTS, SIAGEN_CHROMIUM; playwright-core through NODE_PATH.
"use strict";

const { BASE, step, check, shot, login, run } = require("./harness.cjs");

run("assistant", async (page, errors) => {
  step("login");
  await login(page, "alice");
  for (const label of ["Assistant", "Pseudonymisation", "Énergie"]) {
    check((await page.locator("header nav a", { hasText: label }).count()) === 1, `nav entry ${label}`);
  }

  // ------------------------------------------------------------------ assistant
  step("assistant");
  await page.goto(`${BASE}/assistant`);
  check((await page.locator("#model option").count()) === 1, "one chat model listed (not the embedding one)");
  check((await page.locator("#model").inputValue()) === "tiny-chat", "tiny-chat offered");
  await page.fill("#max-tokens", "24");
  let answer = "";
  for (let attempt = 0; attempt < 3 && !answer.trim(); attempt++) {
    await page.fill("#prompt", `Bonjour, résume la prise en charge d'une angine. (${attempt})`);
    await page.click("#btn-ask");
    await page.locator("#gen-status", { hasText: /terminée|coupée|refusé|échoué|Erreur/ }).waitFor({ timeout: 60000 });
    answer = (await page.locator("#conversation .msg-assistant .msg-text").last().textContent()) || "";
  }
  check(answer.trim().length > 0, "the model answered");
  check((await page.locator("#conversation .msg-user").count()) >= 1, "user message shown");
  const toks = page.locator("#tokens .tok");
  const n = await toks.count();
  check(n > 0, "token probability view lists tokens");
  const title = (await toks.first().getAttribute("title")) || "";
  check(/Probabilité \d/.test(title), `token title shows its probability: ${title}`);
  await toks.first().click();
  check((await page.locator("#tok-detail table.alternatives tbody tr").count()) >= 2, "alternatives listed");
  check((await page.locator("#tok-detail").textContent()).includes("Jeton choisi"), "detail of the chosen token");
  check(await page.locator("#save").isVisible(), "save form offered after the answer");
  check((await page.locator("#save-generation").inputValue()).startsWith("chatcmpl"), "generation id kept");
  await shot(page, "30-assistant.png");

  step("assistant save");
  await page.fill("#save-title", "Brouillon de l'assistant");
  await page.fill("#save-patient", "P-ASSIST-1");
  await Promise.all([page.waitForURL(/\/documents\/\d+/), page.click("#btn-save")]);
  check((await page.locator("#machine-banner").textContent()).includes("Texte généré par un modèle"), "machine banner");
  check((await page.locator("h1").first().textContent()).includes("Brouillon de l'assistant"), "document title");
  await shot(page, "31-assistant-brouillon.png");

  // ----------------------------------------------------------- pseudonymisation
  step("pseudonymisation");
  await page.goto(`${BASE}/pseudonymisation`);
  const original =
    "Mme Martine Dupont, née le 12/03/1956, est joignable au 06 12 34 56 78.\n" +
    "Elle sera revue par le Dr Bernard à Lyon.";
  await page.fill("#texte", original);
  await page.fill("#patient_ref", "P-2024-0042");
  await Promise.all([page.waitForLoadState("load"), page.click("#btn-pseudo")]);
  const tel = page.locator('#pii-original mark.pii[data-label="TEL"]');
  check((await tel.count()) === 1, "phone number highlighted");
  check((await tel.textContent()).includes("06 12 34 56 78"), "the whole phone number");
  const names = await page.locator('#pii-original mark.pii[data-label="NOM"]').allTextContents();
  check(names.some((t) => t.includes("Dupont")), `name highlighted: ${names}`);
  check((await page.locator("#pii-legend li").count()) >= 2, "legend");
  const out = (await page.locator("#pii-output").textContent()) || "";
  check(out.length > 20, "pseudonymised text shown");
  check(!out.includes("06 12 34 56 78") && !out.includes("Dupont"), `identifiers gone: ${out}`);
  await shot(page, "32-pseudonymisation.png");

  // --------------------------------------------------------------------- energy
  step("energie");
  await page.goto(`${BASE}/energie`);
  check((await page.locator("svg#chart-day rect.bar").count()) >= 1, "day chart");
  check((await page.locator("svg#chart-model text", { hasText: "tiny-chat" }).count()) >= 1, "model chart names the model");
  check((await page.locator("#table-user td", { hasText: "alice" }).count()) === 1, "user table");
  check((await page.locator("#h-method").count()) === 1, "method note");
  await shot(page, "33-energie.png");

  check(errors.length === 0, `no script or CSP error: ${errors.join(" | ")}`);
  console.log("assistant/pseudonymisation/energie: all ok");
});
