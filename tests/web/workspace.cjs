// Drives Debian's Chromium through the French web workspace of a running `siagen serve`.
// Run by crates/siagen/tests/web.rs, which starts the server and creates the accounts:
//   alice (clinician), bob (validator), dave (auditor), admin; passwords `<name>-password-123`
//   (admin: SIAGEN_ADMIN_PASSWORD). Environment:
//   SIAGEN_URL          base URL of the server
//   SIAGEN_SHOTS        folder for the screenshots
//   SIAGEN_CHROMIUM     Chromium executable
//   SIAGEN_MACHINE_DOC  id of a document whose first revision a model wrote (for alice)
//   SIAGEN_ADMIN_PASSWORD
// playwright-core is found through NODE_PATH (target/test-deps/node_modules).
"use strict";

const fs = require("fs");
const path = require("path");
const { BASE, SHOTS, step, check, shot, text, login, run } = require("./harness.cjs");

const MACHINE_DOC = process.env.SIAGEN_MACHINE_DOC;
const ADMIN_PASSWORD = process.env.SIAGEN_ADMIN_PASSWORD;

async function logout(page) {
  await Promise.all([page.waitForURL(/\/login/), page.click("header .who button")]);
  check((await page.content()).includes("Vous êtes déconnecté"), "logout message");
}

/// A POST made by a script inside the page (same origin, session cookie sent): what a forged
/// request would do. Returns the status without following redirects.
async function forge(page, url, fields) {
  return page.evaluate(
    async ([url, fields]) => {
      const r = await fetch(url, {
        method: "POST",
        body: new URLSearchParams(fields),
        redirect: "manual",
        credentials: "same-origin",
      });
      return r.type === "opaqueredirect" ? 303 : r.status;
    },
    [url, fields],
  );
}

run("workspace", async (page, errors) => {
  // ---------------------------------------------------------------- login page, keyboard
  step("login page");
  let resp = await page.goto(`${BASE}/documents`);
  check(page.url().includes("/login"), "an anonymous visitor is sent to the login page");
  resp = await page.goto(`${BASE}/login`);
  const csp = resp.headers()["content-security-policy"] || "";
  check(csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), `strict CSP, got ${csp}`);
  check(
    (await page.evaluate(() => document.activeElement && document.activeElement.id)) === "username",
    "the login form has the focus",
  );
  await shot(page, "01-connexion.png");

  step("wrong password");
  await page.fill("#username", "alice");
  await page.fill("#password", "not-the-password");
  await page.click("button[type=submit].primary");
  check((await text(page, "#login-error")).includes("Identifiant ou mot de passe incorrect"), "wrong password message");

  // ---------------------------------------------------------------- clinician writes
  step("clinician login");
  await login(page, "alice");
  check(page.url().endsWith("/documents"), `clinician lands on /documents, got ${page.url()}`);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "siagen_session");
  check(session && session.httpOnly && session.secure && session.sameSite === "Strict", "session cookie HttpOnly, Secure, SameSite=Strict");
  check((await page.locator('nav a[href="/admin"]').count()) === 0, "a clinician has no Administration entry");
  await page.keyboard.press("Tab");
  check(
    (await page.evaluate(() => document.activeElement && document.activeElement.className)) === "skip",
    "the first Tab stop is the skip link",
  );
  await page.keyboard.press("Enter");
  check(
    (await page.evaluate(() => document.activeElement && document.activeElement.id)) === "contenu",
    "the skip link moves the focus to the content",
  );

  step("new document");
  await page.click("text=Nouveau document");
  await page.selectOption("#kind", "lettre_liaison");
  await page.fill("#title", "Lettre de liaison — cardiologie");
  await page.fill("#patient_ref", "P-000777");
  await page.fill(
    "#text",
    "Madame, Monsieur,\nJe vous adresse votre patiente pour suivi.\nTraitement : <b>bisoprolol</b> 2,5 mg/j.\nBien confraternellement.",
  );
  await shot(page, "03-nouveau-document.png");
  await Promise.all([page.waitForURL(/\/documents\/\d+\?msg=created/), page.click("button[type=submit].primary")]);
  const docId = page.url().match(/\/documents\/(\d+)/)[1];
  check((await text(page, "#doc-state")) === "Brouillon", "new document is a draft");
  check((await text(page, "#doc-text")).includes("<b>bisoprolol</b>"), "text is shown literally (escaped)");
  check((await page.locator("#doc-text b").count()) === 0, "no markup injected from the text");
  check((await page.locator("#btn-validate").count()) === 0, "a clinician never sees a validate button");

  step("submit");
  await Promise.all([page.waitForURL(/msg=submitted/), page.click("#btn-submit")]);
  check((await text(page, "#doc-state")) === "En relecture", "submitted document is in review");
  check((await page.locator("#btn-validate").count()) === 0, "still no validate button for a clinician");
  const revisionId = await page.evaluate(() => {
    const m = document.querySelector("dl.meta").textContent.match(/identifiant (\d+)/);
    return m ? m[1] : null;
  });
  check(revisionId, "revision id shown");

  // ---------------------------------------------------------------- forged POSTs
  step("forged posts");
  const csrf = await page.locator('header input[name="csrf"]').first().inputValue();
  check(csrf.length > 20, "csrf token in the page");
  let st = await forge(page, `/documents/${docId}/valider`, { csrf, revision_id: revisionId });
  check(st === 403, `validate as clinician with the right token is refused, got ${st}`);
  st = await forge(page, `/documents/${docId}/valider`, { revision_id: revisionId });
  check(st === 403, `validate without a token is refused, got ${st}`);
  st = await forge(page, `/documents/${docId}/modifier`, { text: "piraté", base_revision_id: revisionId });
  check(st === 403, `edit without a token is refused, got ${st}`);
  st = await forge(page, `/documents/${docId}/modifier`, { csrf: csrf.slice(0, -2) + "xx", text: "piraté", base_revision_id: revisionId });
  check(st === 403, `edit with a wrong token is refused, got ${st}`);
  await page.reload();
  check((await text(page, "#doc-state")) === "En relecture", "state unchanged after forged posts");
  check(!(await text(page, "#doc-text")).includes("piraté"), "text unchanged after forged posts");
  resp = await page.goto(`${BASE}/admin`);
  check(resp.status() === 403, `a clinician is refused /admin, got ${resp.status()}`);

  // ---------------------------------------------------------------- machine text
  step("machine draft");
  await page.goto(`${BASE}/documents/${MACHINE_DOC}`);
  check((await text(page, "#machine-banner")).includes("Texte généré par un modèle — à valider"), "machine banner");
  check((await page.locator("#doc-text mark.machine").count()) > 0, "machine text highlighted");
  check((await page.content()).includes("tiny-llama"), "model name shown");
  await shot(page, "04-document-modele.png");
  await page.click("#btn-edit");
  const original = await page.inputValue("#text");
  await page.fill("#text", original.replace("insuffisance cardiaque", "décompensation cardiaque globale") + "\nAjout du médecin : surveillance du poids.");
  await Promise.all([page.waitForURL(/msg=revised/), page.click("#btn-save")]);
  const marks = await page.locator("#doc-text mark.machine").allTextContents();
  check(marks.length > 0, "unchanged machine passages still marked");
  check(!marks.join(" ").includes("décompensation"), "human rewrite not marked as machine text");
  check(!marks.join(" ").includes("surveillance du poids"), "human addition not marked");
  check((await page.locator("table.diff td.ins").count()) > 0, "side-by-side diff shows human additions");
  check((await page.content()).includes("saisie humaine"), "human author shown");
  await shot(page, "05-document-diff.png");
  await Promise.all([page.waitForURL(/msg=submitted/), page.click("#btn-submit")]);

  // ---------------------------------------------------------------- prescription
  step("prescription");
  await page.click('nav a[href="/ordonnance"]');
  await page.fill("#lignes", "KARDEGIC 75 mg 1 sachet/j\nEliquis 5mg x2/j\nzorglub 3 cp");
  await Promise.all([page.waitForLoadState("load"), page.click("#btn-check")]);
  check((await text(page, "#edition")).includes("2020-01"), "edition named");
  check((await text(page, "#unknown")).includes("zorglub"), "unknown drug listed");
  const firstClass = await page.locator("li.interaction").first().getAttribute("class");
  check(firstClass.includes("sev-ci"), `most severe first, got ${firstClass}`);
  check((await text(page, "li.interaction")).includes("CONTRE-INDICATION"), "level shown");
  check((await text(page, "li.interaction")).includes("Mécanisme"), "mechanism shown");
  check((await text(page, "li.interaction")).includes("Conduite à tenir"), "conduct shown");
  check(!page.url().includes("KARDEGIC"), "drug lines never in the URL");
  await shot(page, "06-ordonnance.png");

  // ---------------------------------------------------------------- list and filters
  step("list");
  await page.goto(`${BASE}/documents?etat=in_review`);
  check((await page.locator("#documents tbody tr").count()) === 2, "two documents in review");
  const today = new Date().toISOString().slice(0, 10);
  await page.goto(`${BASE}/documents?du=${today}&au=${today}`);
  check((await page.locator("#documents tbody tr").count()) === 2, "date filter keeps today's documents");
  await page.goto(`${BASE}/documents?du=2099-01-01`);
  check((await page.content()).includes("Aucun document"), "date filter excludes");
  await page.goto(`${BASE}/documents`);
  await shot(page, "02-documents.png");
  await logout(page);

  // ---------------------------------------------------------------- validator
  step("validator");
  await login(page, "bob");
  await page.goto(`${BASE}/documents/${docId}`);
  check((await page.locator("#btn-validate").count()) === 1, "a validator sees the validate button");
  check((await page.locator('#btn-validate').evaluate((b) => b.form.querySelector('[name=revision_id]').value)) === revisionId,
    "the validate form posts the revision shown");
  check((await page.locator("#btn-fhir").count()) === 0, "no export before validation");
  resp = await page.goto(`${BASE}/documents/${docId}/imprimer`);
  check(resp.status() === 409, `print refused before validation, got ${resp.status()}`);
  await page.goto(`${BASE}/documents/${docId}`);
  await shot(page, "07-document-en-relecture.png");
  await Promise.all([page.waitForURL(/msg=validated/), page.click("#btn-validate")]);
  check((await text(page, "#doc-state")) === "Validé", "validated");
  check((await text(page, "#validated-banner")).includes("bob"), "validator named");
  await shot(page, "08-document-valide.png");

  step("fhir export");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#btn-fhir")]);
  const fhirPath = path.join(SHOTS, "document-fhir.json");
  await download.saveAs(fhirPath);
  const bundle = JSON.parse(fs.readFileSync(fhirPath, "utf8"));
  check(bundle.resourceType === "Bundle", "FHIR bundle downloaded");
  const doc = bundle.entry.find((e) => e.resource.resourceType === "DocumentReference").resource;
  const attached = Buffer.from(doc.content[0].attachment.data, "base64").toString("utf8");
  check(attached.includes("<b>bisoprolol</b> 2,5 mg/j."), "bundle holds the validated text");

  step("print");
  await page.click("#btn-print");
  check((await page.content()).includes("Validé par <strong>bob</strong>"), "print view names the validator");
  await shot(page, "09-impression.png");

  step("reject");
  await page.goto(`${BASE}/documents/${MACHINE_DOC}`);
  await page.click("details.reject summary");
  await page.fill("#reason", "Préciser la posologie du diurétique.");
  await Promise.all([page.waitForURL(/msg=rejected/), page.click("#btn-reject")]);
  check((await text(page, "#doc-state")) === "Rejeté", "rejected");
  check((await page.content()).includes("Préciser la posologie du diurétique."), "reason shown");

  step("tablet");
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.goto(`${BASE}/documents/${MACHINE_DOC}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `no horizontal scrolling on a tablet, overflow ${overflow}px`);
  await shot(page, "10-document-tablette.png");
  await page.setViewportSize({ width: 1280, height: 900 });
  await logout(page);

  // ---------------------------------------------------------------- administration
  step("admin");
  await login(page, "admin", ADMIN_PASSWORD);
  check(page.url().endsWith("/admin"), `admin lands on /admin, got ${page.url()}`);
  await page.fill("#new-name", "eve");
  await page.fill("#new-password", "eve-password-123");
  await page.check("#new-clinician");
  await Promise.all([page.waitForURL(/msg=user_created/), page.click("#btn-create-user")]);
  check((await page.locator("#user-eve").count()) === 1, "user created");
  await page.check("#user-eve input[name=role_validator]");
  await Promise.all([page.waitForURL(/msg=roles_set/), page.click("#user-eve .roles-form button")]);
  check(await page.isChecked("#user-eve input[name=role_validator]"), "roles saved");
  await Promise.all([page.waitForURL(/msg=user_disabled/), page.click("#user-eve button.danger")]);
  check((await text(page, "#user-eve")).includes("désactivé"), "user disabled");

  step("tokens");
  await page.selectOption("#tok-user", { label: "alice (clinicien)" });
  await page.fill("#tok-label", "export nocturne");
  await page.fill("#tok-days", "30");
  await Promise.all([page.waitForLoadState("load"), page.click("#btn-create-token")]);
  const secret = (await text(page, "#token-secret")).trim();
  check(secret.startsWith("sgn_"), "token secret shown once");
  check(!page.url().includes(secret), "secret not in the URL");
  await shot(page, "11-administration.png");
  await page.goto(`${BASE}/admin`);
  check(!(await page.content()).includes(secret), "secret never shown again");
  const tokenRow = page.locator("#tokens tbody tr", { hasText: "export nocturne" });
  await Promise.all([page.waitForURL(/msg=token_revoked/), tokenRow.locator("button.danger").click()]);
  check((await page.locator("#tokens tbody tr", { hasText: "export nocturne" }).textContent()).includes("révoqué"), "token revoked");
  const adminCsrf = await page.locator('header input[name="csrf"]').first().inputValue();
  resp = await page.goto(`${BASE}/admin/journal`);
  check(resp.status() === 403, `journal is for auditors only, got ${resp.status()}`);
  await page.goto(`${BASE}/admin`);
  st = await forge(page, `/admin/utilisateurs`, { name: "mallory", password: "mallory-password-123", role_admin: "1" });
  check(st === 403, `user creation without a token is refused, got ${st}`);
  check(adminCsrf.length > 20, "admin csrf");
  await logout(page);

  step("disabled account");
  await page.goto(`${BASE}/login`);
  await page.fill("#username", "eve");
  await page.fill("#password", "eve-password-123");
  await page.click("button[type=submit].primary");
  check((await text(page, "#login-error")).includes("Ce compte est désactivé"), "disabled account message");

  // ---------------------------------------------------------------- auditor
  step("auditor");
  await login(page, "dave");
  check(page.url().endsWith("/admin"), `auditor lands on /admin, got ${page.url()}`);
  check((await page.locator("#users").count()) === 0, "an auditor does not see accounts");
  await page.click("#link-journal");
  check((await page.locator("#audit tbody tr").count()) > 10, "audit entries listed");
  check((await page.content()).includes("document.validate"), "validation audited");
  await shot(page, "12-journal-audit.png");
  const [exp] = await Promise.all([page.waitForEvent("download"), page.click("#link-export")]);
  const expPath = path.join(SHOTS, "audit.jsonl");
  await exp.saveAs(expPath);
  const lines = fs.readFileSync(expPath, "utf8").trim().split("\n");
  check(lines.length > 10 && lines.every((l) => JSON.parse(l).hash), "JSON-lines export");
  await page.click("#link-verify");
  check((await text(page, "#verify-ok")).includes("Journal intègre"), "audit chain verified");
  await logout(page);

  step("console");
  check(errors.length === 0, `no console error (CSP violations, scripts): ${errors.join(" | ")}`);
  console.log("web workspace: all browser checks passed");
}, { responses: false });
