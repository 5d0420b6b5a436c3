// The chat page in a real browser: Debian's headless Chromium driven by
// playwright-core, against `footnote serve` on a random port with a temporary
// data directory (seeded with the demo documents). Run by scripts/test.sh.
// Screenshots land in target/browser/ for a human to look at.
//
//   FOOTNOTE_BIN   the footnote binary (default target/release/footnote)
//   CHROMIUM       the browser (default /usr/bin/chromium)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
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

function startServer() {
  const server = spawn(binary, ["serve", "--addr", "127.0.0.1:0", "--rate-limit", "0"], {
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

  await step("the page is usable on a phone", async () => {
    const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    const small = await phone.newPage();
    await small.goto(base + "/");
    await small.locator("button.example").first().click();
    await small.locator("article.message:not(.pending) a.marker").first().waitFor({ timeout: 30_000 });
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await small.screenshot({ path: join(shots, "5-phone.png"), fullPage: true });
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
