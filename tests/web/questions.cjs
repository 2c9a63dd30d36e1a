// Drives Debian's Chromium through the « Questions au corpus » page of a running `siagen serve`
// started with the suite's tiny models and a knowledge base holding collection `guides`. Run by
// crates/siagen/tests/web.rs, which creates alice (clinician, password `alice-password-123`).
// Environment: SIAGEN_URL, SIAGEN_SHOTS, SIAGEN_CHROMIUM; playwright-core through NODE_PATH.
"use strict";

const { BASE, step, check, shot, login, run } = require("./harness.cjs");

run("questions", async (page, errors) => {
  step("login");
  await login(page, "alice");
  check((await page.locator("header nav a", { hasText: "Questions au corpus" }).count()) === 1, "nav entry");

  step("question");
  await page.click("header nav a:has-text('Questions au corpus')");
  check((await page.locator("h1", { hasText: "Questions au corpus" }).count()) === 1, "page title");
  check((await page.locator("#collection option").count()) === 1, "one readable collection");
  check((await page.locator("#collection").inputValue()) === "guides", "guides offered");
  check((await page.locator("#ask-form input[name=csrf]").count()) === 1, "CSRF field");
  await page.fill("#question", "Quelle est la dose maximale de paracétamol chez l'adulte ?");
  await Promise.all([page.waitForLoadState("load"), page.click("#btn-ask")]);
  check((await page.locator("#answer[data-covered=true]").count()) === 1, "answered from the corpus");
  check((await page.locator("#legend li").count()) === 4, "legend of the four verdicts");
  const verdicts = await page.locator("#sentences li.sentence").evaluateAll((els) => els.map((e) => e.dataset.verdict));
  for (const v of verdicts) {
    check(["supported", "partial", "unsupported", "not_a_claim"].includes(v), `verdict ${v}`);
  }
  const sources = page.locator("#sources li");
  check((await sources.count()) >= 1, "sources listed");
  check((await page.locator("#source-1 .source-title", { hasText: "Paracétamol chez l'adulte" }).count()) === 1, "source 1 title");
  check((await page.locator("#source-1 .source-licence", { hasText: "Licence Ouverte 2.0" }).count()) === 1, "source 1 licence");
  check((await page.locator("#question").inputValue()).includes("paracétamol"), "question kept in the form");
  await shot(page, "40-questions.png");

  step("save");
  await Promise.all([page.waitForLoadState("load"), page.click("#btn-save")]);
  check(/\/documents\/\d+/.test(page.url()), `redirected to the draft: ${page.url()}`);
  check((await page.locator("body", { hasText: "Réponse sourcée" }).count()) >= 1, "kind shown");
  check((await page.locator("body", { hasText: "Licence Ouverte 2.0" }).count()) >= 1, "sources kept in the draft");
  await shot(page, "41-reponse-sourcee.png");

  step("other model");
  await page.goto(`${BASE}/questions`);
  const models = await page.locator("#model option").evaluateAll((els) => els.map((e) => e.value));
  check(models.join(",") === "tiny-long,tiny-second", `installed models offered: ${models}`);
  check((await page.locator("#model").inputValue()) === "tiny-long", "default model first");
  await page.selectOption("#model", "tiny-second");
  await page.fill("#question", "Quelle est la dose maximale de paracétamol chez l'adulte ?");
  await Promise.all([page.waitForLoadState("load"), page.click("#btn-ask")]);
  check((await page.locator("#answer[data-covered=true]").count()) === 1, "answered by the chosen model");
  check((await page.locator("#answer", { hasText: "Modèle : tiny-second" }).count()) === 1, "chosen model named");
  check((await page.locator("#model").inputValue()) === "tiny-second", "choice kept in the form");

  step("not covered");
  await page.goto(`${BASE}/questions`);
  await page.fill("#question", "Quel est le calendrier des marées à Brest en juillet ?");
  await Promise.all([page.waitForLoadState("load"), page.click("#btn-ask")]);
  check((await page.locator("#not-covered", { hasText: "Le corpus ne couvre pas cette question." }).count()) === 1, "refusal shown");
  check((await page.locator("#btn-save").count()) === 0, "nothing to save");

  step("empty");
  await page.goto(`${BASE}/questions`);
  await page.locator("#question").evaluate((e) => e.removeAttribute("required"));
  await page.fill("#question", "   ");
  await Promise.all([page.waitForLoadState("load"), page.click("#btn-ask")]);
  check((await page.locator(".alert-error", { hasText: "Saisissez une question." }).count()) === 1, "empty question refused");
  // That refusal is a 422 page, expected: drop it from the error list.
  const unexpected = errors.filter((e) => !e.startsWith("422 "));
  check(unexpected.length === 0, `no script or CSP error: ${unexpected.join(" | ")}`);
  console.log("questions: all ok");
});
