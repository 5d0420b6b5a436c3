// The web app in a real browser: Debian's headless Chromium driven by
// playwright-core, against `footnote serve` on a random port with a temporary
// data directory (seeded with the demo documents) and an admin token. The
// chat, the side list of this browser's conversations, the document library
// with login and uploads, scoped questions, copying, dark mode, a phone, the
// keyboard, and the same without JavaScript; axe-core audits the pages. Run
// by scripts/test.sh. Screenshots land in target/browser/ for a human to look at.
//
//   FOOTNOTE_BIN   the footnote binary (default target/release/footnote)
//   CHROMIUM       the browser (default /usr/bin/chromium)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const binary = process.env.FOOTNOTE_BIN ?? join(root, "target/release/footnote");
const shots = join(root, "target/browser");
mkdirSync(shots, { recursive: true });
const data = mkdtempSync(join(tmpdir(), "footnote-browser-"));
const TOKEN = "browser-test-token";
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

function startServer() {
  const server = spawn(binary, ["serve", "--addr", "127.0.0.1:0", "--rate-limit", "0", "--admin-token", TOKEN], {
    env: { ...process.env, FOOTNOTE_DATA_DIR: data, FOOTNOTE_SEEDS: join(root, "seeds") },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolveBase, reject) => {
    server.once("exit", (code) => reject(new Error(`footnote serve exited with ${code}`)));
    createInterface({ input: server.stdout }).once("line", (line) => {
      const match = line.match(/serving on (http:\/\/\S+?)\/?$/);
      if (!match) reject(new Error(`unexpected first line: ${line}`));
      else resolveBase({ server, base: match[1] });
    });
  });
}

const steps = [];

// axe-core in the page: serious and critical violations fail the step.
async function audit(page, what) {
  await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  assert.deepEqual(violations, [], `axe-core on ${what}`);
}

const ferries = {
  name: "island-ferries.md",
  mimeType: "text/markdown",
  buffer: Buffer.from("# Island ferries\n\nThe Heron ferry crosses from Port Lark to Salt Island in 55 minutes.\n\nA single fare on the Heron ferry costs 9 crowns.\n"),
};
const lighthouse = {
  name: "lighthouse.md",
  mimeType: "text/markdown",
  buffer: Buffer.from("# The lighthouse\n\nThe Salt Island lighthouse was lit for the first time in 1893.\n"),
};
const installer = { name: "installer.exe", mimeType: "application/octet-stream", buffer: Buffer.from("MZ not a document") };
async function step(name, body) {
  process.stdout.write(`- ${name} ... `);
  await body();
  steps.push(name);
  console.log("ok");
}

const { server, base } = await startServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});

try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));

  await step("the empty page offers example questions", async () => {
    await page.goto(base + "/");
    const examples = page.locator("button.example");
    assert.ok((await examples.count()) >= 1);
    assert.match(await examples.first().textContent(), /Tokayev/);
    assert.equal(await page.getAttribute("label[for=question]", "for"), "question");
    await page.screenshot({ path: join(shots, "1-empty.png"), fullPage: true });
  });

  await step("Shift+Enter starts a new line instead of sending", async () => {
    await page.fill("#question", "first line");
    await page.press("#question", "Shift+Enter");
    await page.keyboard.type("second line");
    assert.equal(await page.inputValue("#question"), "first line\nsecond line");
    assert.equal(await page.locator("article.message").count(), 0);
    await page.fill("#question", "");
  });

  await step("the example question is answered with footnotes", async () => {
    await page.fill("#question", "why did Tokayev call early elections?");
    await page.press("#question", "Enter");
    const answer = page.locator("article.message:not(.pending)").first();
    await answer.locator("a.marker").first().waitFor({ timeout: 30_000 });
    const text = await answer.locator(".answer > p").textContent();
    assert.match(text, /uncertainty/);
    assert.match(text, /\[1\]/);
    assert.ok((await answer.locator(".sources li").count()) >= 1);
    assert.match(page.url(), /\?c=/);
    assert.match(await page.textContent("#status"), /Answered/);
    await page.screenshot({ path: join(shots, "2-answer.png"), fullPage: true });
  });

  await step("a marker opens its passage with the used sentence highlighted", async () => {
    const answer = page.locator("article.message").first();
    const marker = answer.locator("a.marker").first();
    const target = (await marker.getAttribute("href")).slice(1);
    const passage = page.locator(`[id="${target}"] .passage`);
    assert.equal(await passage.isVisible(), false);
    await marker.click();
    await passage.waitFor({ state: "visible" });
    const highlighted = await passage.locator("mark").first().textContent();
    const answerText = await answer.locator(".answer > p").textContent();
    assert.ok(answerText.includes(highlighted.replace(/\s+/g, " ").trim()), "the highlighted sentence is the one used");
    assert.match(await page.locator(`[id="${target}"] .source-title`).textContent(), /\S/);
    await page.screenshot({ path: join(shots, "3-passage.png"), fullPage: true });
  });

  await step("a follow-up is answered in the conversation", async () => {
    await page.fill("#question", "and in 2019?");
    await page.press("#question", "Enter");
    await page.locator("article.message:not(.pending)").nth(1).locator(".answer").waitFor({ timeout: 30_000 });
    const sources = await page.locator("article.message").nth(1).locator(".sources").textContent();
    assert.ok(sources.length > 0);
  });

  await step("a thumbs-up is recorded", async () => {
    const up = page.locator("article.message").first().locator("button[value=up]");
    await up.click();
    await page.waitForFunction(() => document.querySelector("article.message button[value=up]").getAttribute("aria-pressed") === "true");
  });

  await step("an out-of-scope question looks like an abstention", async () => {
    await page.fill("#question", "What is the capital of France?");
    await page.press("#question", "Enter");
    const abstained = page.locator("article.message").nth(2).locator(".answer.abstained");
    await abstained.waitFor({ timeout: 30_000 });
    assert.match(await abstained.textContent(), /Not in the documents/);
    assert.equal(await page.locator("article.message").nth(2).locator("a.marker").count(), 0);
  });

  await step("a reload shows the same conversation, votes included", async () => {
    await page.reload();
    assert.equal(await page.locator("article.message").count(), 3);
    assert.equal(await page.locator("article.message").first().locator("button[value=up]").getAttribute("aria-pressed"), "true");
    await page.screenshot({ path: join(shots, "4-reloaded.png"), fullPage: true });
  });

  await step("New chat starts over", async () => {
    await page.click("#new-chat");
    await page.locator("button.example").first().waitFor();
    assert.equal(await page.locator("article.message").count(), 0);
  });

  await step("the side list shows this browser's conversations, the latest first, and no other browser's", async () => {
    await page.fill("#question", "Who succeeded Nazarbayev as president?");
    await page.press("#question", "Enter");
    await page.locator("article.message:not(.pending) .answer").first().waitFor({ timeout: 30_000 });
    const items = page.locator("#conversation-list li");
    await page.waitForFunction(() => document.querySelectorAll("#conversation-list li").length === 2);
    assert.match(await items.first().textContent(), /Who succeeded Nazarbayev/);
    assert.match(await items.nth(1).textContent(), /early elections/);
    assert.equal(await items.first().locator("a").getAttribute("aria-current"), "page");
    const other = await browser.newContext();
    const elsewhere = await other.newPage();
    await elsewhere.goto(base + "/");
    assert.equal(await elsewhere.locator("#conversation-list li").count(), 0);
    assert.match(await elsewhere.textContent("#conversation-list"), /listed here/);
    const listed = await (await elsewhere.request.get(base + "/api/v1/conversations")).json();
    assert.deepEqual(listed.conversations, []);
    await other.close();
    await page.screenshot({ path: join(shots, "7-side-list.png"), fullPage: true });
  });

  await step("a conversation is renamed from the side list with the keyboard", async () => {
    const item = page.locator("#conversation-list li").nth(1);
    await item.locator(".item-actions summary").focus();
    await page.keyboard.press("Enter");
    const title = item.locator("input[name=title]");
    await title.waitFor({ state: "visible" });
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.name), "title");
    await page.keyboard.press("ControlOrMeta+a");
    await page.keyboard.type("Early elections");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => [...document.querySelectorAll("#conversation-list a")].some((a) => a.textContent === "Early elections"));
    await page.reload();
    assert.equal(await page.locator("#conversation-list li").nth(1).locator("a").textContent(), "Early elections");
  });

  await step("the answer is copied with its footnotes", async () => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    await page.locator("#conversation-list li").nth(1).locator("a").click();
    await page.waitForURL(/\?c=/);
    await page.locator("article.message").first().locator("button.copy").click();
    await page.waitForFunction(() => /copied/.test(document.getElementById("status").textContent));
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(copied, /uncertainty.*\[1\]/s);
    assert.match(copied, /\n\nSources:\n\[1\] .+, passage \d+/);
  });

  await step("a conversation is deleted from the side list, with its messages", async () => {
    const before = await page.locator("#conversation-list li").count();
    const doomed = page.locator("#conversation-list li").first();
    const id = await doomed.getAttribute("data-conversation-id");
    await doomed.locator(".item-actions summary").click();
    await doomed.locator("form.delete button").click();
    await page.waitForFunction((n) => document.querySelectorAll("#conversation-list li").length === n - 1, before);
    assert.equal((await page.request.get(`${base}/api/v1/conversations/${id}`)).status(), 404);
  });

  await step("the library is read-only until the admin logs in", async () => {
    await page.goto(base + "/documents");
    assert.match(await page.textContent("#read-only"), /Log in/);
    assert.equal(await page.locator("#upload").count(), 0);
    assert.ok((await page.locator("#documents tbody tr").count()) >= 5);
    await page.click("#read-only a");
    await page.fill("#token", "not the token");
    await page.click("form.login button");
    assert.match(await page.textContent("[role=alert]"), /not the admin token/);
    await page.fill("#token", TOKEN);
    await Promise.all([page.waitForURL(/\/documents$/), page.click("form.login button")]);
    await page.locator("#upload").waitFor();
    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === "footnote_session");
    assert.ok(session && session.httpOnly && session.sameSite === "Lax", JSON.stringify(cookies));
  });

  await step("uploads show each file's progress and outcome; dropped files too", async () => {
    await page.evaluate(() => {
      window.seenStages = [];
      new MutationObserver((records) => {
        for (const r of records) {
          for (const n of r.addedNodes) {
            if (n.nodeType === 3 && r.target.classList?.contains("stage")) window.seenStages.push(n.data);
            if (n.nodeType === 1) for (const stage of n.querySelectorAll(".stage")) window.seenStages.push(stage.textContent);
          }
        }
      }).observe(document.getElementById("uploads"), { childList: true, subtree: true });
    });
    await page.setInputFiles("#files", [ferries, installer]);
    await page.click("#upload button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#uploads li[data-outcome]").length === 2, null, { timeout: 60_000 });
    const outcomes = await page.locator("#uploads li").allTextContents();
    assert.match(outcomes[0], /island-ferries\.md.*added, \d+ passages?/);
    assert.match(outcomes[1], /installer\.exe.*not added: .*only/);
    const stages = await page.evaluate(() => window.seenStages);
    for (const stage of ["Uploading", "Reading", "Cleaning", "Embedding", "Storing"]) assert.ok(stages.includes(stage), `${stage} not shown: ${stages}`);
    await page.locator("#documents tbody tr", { hasText: "Island ferries" }).waitFor();
    assert.match(await page.textContent("#library-count"), /^6 documents/);
    await page.screenshot({ path: join(shots, "8-uploads.png"), fullPage: true });

    // Dropped on the zone, as a file manager would.
    await page.evaluate(async ({ name, text }) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], name, { type: "text/markdown" }));
      document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, { name: lighthouse.name, text: lighthouse.buffer.toString() });
    await page.locator("#documents tbody tr", { hasText: "The lighthouse" }).waitFor({ timeout: 60_000 });
  });

  await step("the library filters, and shows a document's passages", async () => {
    await page.fill("#filter", "ferr");
    assert.equal(await page.locator("#documents tbody tr:visible").count(), 1);
    await page.fill("#filter", "");
    await page.click("text=Island ferries");
    await page.waitForURL(/\/documents\/island-ferries\.md$/);
    assert.match(await page.textContent(".passages"), /55 minutes/);
    await page.goBack();
  });

  await step("a question limited to a chosen document cites only it, and the limit stays with the conversation", async () => {
    await page.goto(base + "/documents");
    await page.check('#documents input[value="island-ferries.md"]');
    await Promise.all([page.waitForURL(/scope=island-ferries\.md/), page.click("#ask-selected")]);
    assert.match(await page.textContent("#scope"), /Answers only from\s+Island ferries/);
    await page.fill("#question", "Why did Tokayev call early elections?");
    await page.press("#question", "Enter");
    await page.locator("article.message:not(.pending) .answer").first().waitFor({ timeout: 30_000 });
    for (const origin of await page.locator("article.message .origin").allTextContents()) assert.match(origin, /^island-ferries\.md/);
    await page.fill("#question", "How long does the Heron ferry take to Salt Island?");
    await page.press("#question", "Enter");
    const second = page.locator("article.message:not(.pending)").nth(1);
    await second.locator("a.marker").first().waitFor({ timeout: 30_000 });
    assert.match(await second.locator(".answer > p").textContent(), /55 minutes/);
    for (const origin of await page.locator("article.message .origin").allTextContents()) assert.match(origin, /^island-ferries\.md/);
    await page.reload();
    assert.match(await page.textContent("#scope"), /Island ferries/);
    await page.screenshot({ path: join(shots, "9-scoped.png"), fullPage: true });
  });

  await step("a document is deleted from the library", async () => {
    await page.goto(base + "/documents");
    await Promise.all([page.waitForURL(/\/documents$/), page.click('button[aria-label="Delete The lighthouse"]')]);
    assert.equal(await page.locator("#documents tbody tr", { hasText: "The lighthouse" }).count(), 0);
    assert.equal((await page.request.get(`${base}/api/v1/documents/lighthouse.md`)).status(), 404);
  });

  await step("axe-core finds no serious violation, light or dark", async () => {
    const { conversations } = await (await page.request.get(base + "/api/v1/conversations")).json();
    const conversation = `/?c=${conversations[0].id}`;
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [what, path] of [["the chat page", "/"], ["a conversation", conversation], ["the library", "/documents"], ["a document", "/documents/island-ferries.md"], ["the login", "/login"]]) {
        await page.goto(base + path);
        await audit(page, `${what} (${scheme})`);
      }
    }
    await page.emulateMedia({ colorScheme: "light" });
  });

  await step("dark mode follows the system", async () => {
    const dark = await browser.newContext({ colorScheme: "dark", viewport: { width: 1200, height: 900 } });
    const night = await dark.newPage();
    await night.goto(base + "/");
    const background = await night.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = background.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 120, `the dark page's background is ${background}`);
    await night.locator("button.example").first().click();
    await night.locator("article.message:not(.pending) a.marker").first().waitFor({ timeout: 30_000 });
    await night.screenshot({ path: join(shots, "10-dark.png"), fullPage: true });
    await night.goto(base + "/documents");
    await night.screenshot({ path: join(shots, "11-dark-library.png"), fullPage: true });
    await dark.close();
  });

  await step("the page is usable on a phone", async () => {
    const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    const small = await phone.newPage();
    await small.goto(base + "/");
    await small.locator("button.example").first().click();
    await small.locator("article.message:not(.pending) a.marker").first().waitFor({ timeout: 30_000 });
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await small.screenshot({ path: join(shots, "5-phone.png"), fullPage: true });
    // The side list is a drawer: closed until opened.
    await small.reload();
    assert.equal(await small.locator("#conversation-list").isVisible(), false);
    await small.locator("#drawer > summary").tap();
    await small.locator("#conversation-list li").first().waitFor({ state: "visible" });
    await small.screenshot({ path: join(shots, "5-phone-drawer.png"), fullPage: true });
    await small.goto(base + "/documents");
    const wide = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(wide <= 0, `the library scrolls sideways by ${wide}px`);
    await phone.close();
  });

  await step("without JavaScript the form is answered by the server", async () => {
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const noscript = await plain.newPage();
    await noscript.goto(base + "/");
    await noscript.fill("#question", "why did Tokayev call early elections?");
    await Promise.all([noscript.waitForURL(/\?c=/), noscript.click("#send")]);
    const answer = noscript.locator("article.message").first();
    assert.match(await answer.locator(".answer > p").textContent(), /\[1\]/);
    const marker = answer.locator("a.marker").first();
    const target = (await marker.getAttribute("href")).slice(1);
    await marker.click();
    await noscript.locator(`[id="${target}"] .passage`).waitFor({ state: "visible" });
    await noscript.screenshot({ path: join(shots, "6-no-javascript.png"), fullPage: true });

    // The side list: rename and delete through its forms.
    assert.equal(await noscript.locator("#conversation-list li").count(), 1);
    await noscript.locator("#conversation-list .item-actions summary").click();
    await noscript.fill("#conversation-list input[name=title]", "Elections, no script");
    await Promise.all([noscript.waitForURL(/\?c=/), noscript.click("#conversation-list form.rename button")]);
    assert.equal(await noscript.locator("#conversation-list a").textContent(), "Elections, no script");
    await noscript.locator("#conversation-list .item-actions summary").click();
    await Promise.all([noscript.waitForURL(base + "/"), noscript.click("#conversation-list form.delete button")]);
    assert.equal(await noscript.locator("#conversation-list li").count(), 0);

    // The library: browse, log in, upload through the plain form.
    await noscript.goto(base + "/documents");
    assert.ok((await noscript.locator("#documents tbody tr").count()) >= 5);
    await noscript.goto(base + "/login");
    await noscript.fill("#token", TOKEN);
    await Promise.all([noscript.waitForURL(/\/documents$/), noscript.click("form.login button")]);
    await noscript.setInputFiles("#files", [lighthouse, installer]);
    await Promise.all([noscript.waitForLoadState(), noscript.click("#upload button[type=submit]")]);
    const outcomes = await noscript.locator(".outcomes li").allTextContents();
    assert.match(outcomes[0], /lighthouse\.md: added, \d+ passages?/);
    assert.match(outcomes[1], /installer\.exe: not added/);
    await noscript.screenshot({ path: join(shots, "12-no-javascript-upload.png"), fullPage: true });
    await plain.close();
  });

  assert.deepEqual(errors, [], "the page threw errors");
  console.log(`browser test: ${steps.length} steps passed; screenshots in ${shots}`);
} finally {
  await browser.close();
  const exited = new Promise((done) => server.once("exit", done));
  server.kill("SIGTERM");
  await exited;
  rmSync(data, { recursive: true, force: true });
}
