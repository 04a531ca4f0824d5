// The webmail in a real browser: Debian's chromium, headless, driven by
// playwright-core.  Run by tests/test_webmail.py, which starts correio and
// answers this script's requests ("@@ {json}" lines on stdout, one JSON
// line back on stdin): deliver a message by SMTP, check a mailbox.  Every
// step's outcome, the requests the browser made and its console end up in
// one "@@RESULT {json}" line.
//
//   node webmail.mjs '{"base": "http://127.0.0.1:PORT", "tmp": DIR,
//                      "alice": [user, pass], "bob": [user, pass],
//                      "attacker": "http://127.0.0.1:PORT2"}'

import { chromium } from "playwright-core";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";

const cfg = JSON.parse(process.argv[2]);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function ask(op) {
  process.stdout.write("@@ " + JSON.stringify(op) + "\n");
  const { value } = await lines.next();
  return JSON.parse(value);
}

const result = { steps: {}, requests: [], console: [], dialogs: [], pageErrors: [] };

async function step(name, fn) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    result.steps[name] = { ok: true, detail: detail === undefined ? null : detail,
                           ms: Date.now() - t0 };
  } catch (e) {
    result.steps[name] = { ok: false, error: String(e && e.stack || e), ms: Date.now() - t0 };
  }
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
context.setDefaultTimeout(20000);	// a loaded machine; steps take far less
context.on("request", (r) => result.requests.push({ url: r.url(), frame: r.frame() ? r.frame().url() : null }));
const page = await context.newPage();
page.on("console", (m) => result.console.push(m.type() + ": " + m.text()));
page.on("pageerror", (e) => result.pageErrors.push(String(e)));
page.on("dialog", (d) => { result.dialogs.push(d.message()); d.dismiss().catch(() => {}); });

const row = (subject) => page.locator("#message-list .message", { hasText: subject });
const folder = (r) => page.locator(`#folder-list button[data-role="${r}"]`);

async function signIn([user, pass]) {
  await page.goto(cfg.base + "/");
  await page.locator("#signin-user").fill(user);
  await page.locator("#signin-pass").fill(pass);
  await page.locator("#signin-button").click();
  await page.locator("#main").waitFor({ state: "visible" });
  await page.locator("#who", { hasText: user }).waitFor();
}

async function openMessage(subject) {
  await row(subject).first().click();
  await page.locator("#reader-subject", { hasText: subject }).waitFor();
}

try {
  await step("signin", async () => {
    await signIn(cfg.alice);
    await row("Welcome aboard").waitFor();
    const cookies = await context.cookies();
    return { unread: await folder("inbox").locator(".count").textContent(),
             cookie: cookies.find((c) => c.name === "correio_session") };
  });

  await step("read", async () => {
    await openMessage("Welcome aboard");
    const body = await page.locator("#reader-body pre.mail-text").textContent();
    // reading marks it seen: the unread count goes down without a reload
    await page.waitForFunction(() =>
      !document.querySelector('#message-list .message.unread[data-email]') ||
      !Array.from(document.querySelectorAll("#message-list .message.unread"))
        .some((e) => e.textContent.includes("Welcome aboard")));
    return { body, unread: await folder("inbox").locator(".count").textContent() };
  });

  await step("screenshot", async () => {
    await folder("inbox").click();
    await row("Welcome aboard").waitFor();
    await row("Quarterly figures").waitFor();
    const path = join(cfg.tmp, "inbox.png");
    await page.screenshot({ path, fullPage: true });
    return { path };
  });

  await step("hostile", async () => {
    const titleBefore = await page.title();
    await openMessage("Hostile offer");
    const frame = page.frameLocator("#reader-body iframe.mail-frame");
    await frame.locator("text=Hostile body text").waitFor();
    // what a reader would do: click the link, hover the image
    await frame.locator("a", { hasText: "click me" }).click({ timeout: 3000 }).catch(() => {});
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(cfg.tmp, "hostile.png") });
    const sandbox = await page.locator("#reader-body iframe").getAttribute("sandbox");
    const scripts = await frame.locator("script, iframe, form, object, embed, meta[http-equiv=refresh]").count();
    const handlers = await frame.locator("[onerror], [onload], [onclick]").count();
    const jsLinks = await frame.locator('a[href^="javascript"]').count();
    return { titleBefore, titleAfter: await page.title(), sandbox, scripts, handlers, jsLinks,
             remoteBar: await page.locator("#remote-bar").isVisible(),
             hits: (await ask({ op: "hits" })).hits };
  });

  await step("show_images", async () => {
    await page.locator("#remote-button").click();
    const frame = page.frameLocator("#reader-body iframe.mail-frame");
    await frame.locator("text=Hostile body text").waitFor();
    await page.waitForTimeout(1000);
    return { hits: (await ask({ op: "hits" })).hits };
  });

  await step("inline_image", async () => {
    await openMessage("Logo inside");
    const frame = page.frameLocator("#reader-body iframe.mail-frame");
    await frame.locator("text=Our logo").waitFor();
    const img = frame.locator("img");
    await page.waitForTimeout(300);
    return { src: (await img.getAttribute("src")).slice(0, 22),
             width: await img.evaluate((i) => i.naturalWidth) };
  });

  await step("sanitizer_corpus", async () => {
    // known tricks through the sanitizer; its output parsed again (as the
    // frame will) must hold nothing active and nothing remote
    return await page.evaluate(async (attacker) => {
      const { sanitizeHtml } = await import("/sanitize.js");
      const vectors = [
        `<img src=x onerror=alert(1)>`,
        `<svg><script>alert(1)</script></svg>`,
        `<svg onload=alert(1)>`,
        `<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>`,
        `<noscript><p title="</noscript><img src=x onerror=alert(1)>">`,
        `<style><img src=x onerror=alert(1)></style>`,
        `<a href="jav&#x09;ascript:alert(1)">x</a>`,
        `<a href=" javascript:alert(1)">x</a>`,
        `<a href="JAVASCRIPT:alert(1)">x</a>`,
        `<a href="data:text/html,<script>alert(1)</script>">x</a>`,
        `<a href="vbscript:msgbox(1)">x</a>`,
        `<iframe srcdoc="<script>alert(1)</script>"></iframe>`,
        `<form><button formaction="javascript:alert(1)">x</button></form>`,
        `<object data="javascript:alert(1)"></object><embed src="${attacker}/embed">`,
        `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
        `<base href="javascript:/"><a href="x">x</a>`,
        `<link rel="stylesheet" href="${attacker}/link">`,
        `<style>@import "${attacker}/import"; body{background:url(${attacker}/bg)}</style>`,
        `<div style="background:url(${attacker}/inline)">x</div>`,
        `<div style="background:u\\rl(${attacker}/escaped)">x</div>`,
        `<div style="background-image:image-set('${attacker}/set' 1x)">x</div>`,
        `<img srcset="${attacker}/srcset 1x" src="data:image/png;base64,iVBORw0KGgo=">`,
        `<img src="${attacker}/remote">`,
        `<video poster="${attacker}/poster"></video><audio src="${attacker}/audio"></audio>`,
        `<table background="${attacker}/table"><td background="${attacker}/td">x</td></table>`,
        `<body background="${attacker}/body">x</body>`,
        `<input type=image src="${attacker}/input">`,
        `<a href="http://example.org/" onclick="alert(1)" onmouseover="alert(2)">ok</a>`,
        `<p style="behavior:url(${attacker}/htc); -moz-binding:url(${attacker}/xbl)">x</p>`,
        `<template><img src=x onerror=alert(1)></template>`,
        `<xmp><img src=x onerror=alert(1)></xmp>`,
        `<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>`,
        `<div id="x" class="y" title="<img src=x onerror=alert(1)>">x</div>`,
      ];
      const active = /^(script|iframe|frame|object|embed|form|input|button|meta|base|link|svg|math|template|video|audio)$/i;
      const problems = [];
      for (const v of vectors) {
        const { html } = sanitizeHtml(v);
        const doc = new DOMParser().parseFromString(html, "text/html");
        for (const el of doc.querySelectorAll("*")) {
          // the sanitizer's own: <meta charset>, its policy, <base target>
          const own = (el.localName === "meta" && (el.getAttribute("charset") === "utf-8" ||
                       el.getAttribute("http-equiv") === "Content-Security-Policy")) ||
                      (el.localName === "base" && !el.hasAttribute("href"));
          if (active.test(el.localName) && !own)
            problems.push([v, "element " + el.localName]);
          for (const a of el.attributes) {
            if (/^on/i.test(a.name)) problems.push([v, "handler " + a.name]);
            if (/^(href|src|action|formaction|background|poster|srcset|data|xlink:href)$/i.test(a.name) &&
                !/^(https?:|mailto:|data:image\/)/i.test(a.value.trim()))
              problems.push([v, `${a.name}=${a.value}`]);
            if ((a.name === "src" || a.name === "background" || a.name === "srcset") &&
                a.value.includes(attacker))
              problems.push([v, `remote ${a.name}`]);
            if (a.name === "style" && /url\s*\(|image-set|@import/i.test(a.value))
              problems.push([v, "style " + a.value]);
          }
        }
        for (const st of doc.querySelectorAll("style"))
          if (/url\s*\(|@import|image-set/i.test(st.textContent))
            problems.push([v, "style sheet " + st.textContent]);
      }
      return { count: vectors.length, problems };
    }, cfg.attacker);
  });

  await step("push", async () => {
    await ask({ op: "deliver", to: cfg.alice[0], subject: "Pushed while reading" });
    await row("Pushed while reading").waitFor({ timeout: 15000 });
  });

  await step("flag", async () => {
    await openMessage("Welcome aboard");
    await page.locator("#flag-button").click();
    await page.locator("#message-list .message.flagged", { hasText: "Welcome aboard" }).waitFor();
    // a reload keeps the session (cookie) and shows the flag from the server
    await page.reload();
    await page.locator("#message-list .message.flagged", { hasText: "Welcome aboard" }).waitFor();
    return { imap: await ask({ op: "flags", user: cfg.alice[0], subject: "Welcome aboard" }) };
  });

  await step("save_attachment", async () => {
    await openMessage("Quarterly figures");
    const link = page.locator("#attachment-list a.attachment-link", { hasText: "figures.bin" });
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const path = join(cfg.tmp, "saved-figures.bin");
    await download.saveAs(path);
    return { name: download.suggestedFilename(), sha256: sha256(readFileSync(path)) };
  });

  await step("search", async () => {
    await page.locator("#search").fill("Quarterly");
    await page.locator("#search").press("Enter");
    await page.locator("#list-title", { hasText: "Search: Quarterly" }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll("#message-list .message").length === 1);
    return { subjects: await page.locator("#message-list .message .subject").allTextContents() };
  });

  const sent = randomBytes(3000);
  await step("send", async () => {
    await folder("inbox").click();
    await page.locator("#compose-button").click();
    await page.locator("#compose-to").fill(cfg.bob[0]);
    await page.locator("#compose-subject").fill("Report with attachment");
    await page.locator("#compose-body").fill("Hello Bob,\nthe report is attached.\n");
    await page.locator("#compose-files").setInputFiles({ name: "report.bin",
      mimeType: "application/octet-stream", buffer: sent });
    await page.locator("#compose-attachments li", { hasText: "report.bin" }).waitFor();
    await page.locator("#send-button").click();
    // "Sent." (and the composer closes), or the reason it was not
    await page.waitForFunction(() => !["", "Sending…"].includes(
      document.getElementById("compose-status").textContent), null, { timeout: 15000 });
    const text = await page.locator("#compose-status").textContent();
    if (text !== "Sent.") throw new Error("compose says: " + text);
    await page.locator("#status", { hasText: "Message sent." }).waitFor();
    await folder("sent").click();
    await row("Report with attachment").waitFor();
    return { delivered: await ask({ op: "delivered", to: cfg.bob[0], subject: "Report with attachment" }) };
  });

  await step("receive", async () => {
    await page.locator("#signout-button").click();
    await page.locator("#signin").waitFor({ state: "visible" });
    await signIn(cfg.bob);
    await openMessage("Report with attachment");
    const body = await page.locator("#reader-body").textContent();
    const link = page.locator("#attachment-list a.attachment-link", { hasText: "report.bin" });
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const path = join(cfg.tmp, "saved-report.bin");
    await download.saveAs(path);
    return { body, sha256: sha256(readFileSync(path)), sent: sha256(sent) };
  });

  await step("reply", async () => {
    await openMessage("Report with attachment");
    await page.locator("#reply-button").click();
    await page.locator("#composer").waitFor({ state: "visible" });
    const to = await page.locator("#compose-to").inputValue();
    const subject = await page.locator("#compose-subject").inputValue();
    const quoted = await page.locator("#compose-body").inputValue();
    await page.locator("#compose-body").evaluate((t) => { t.value = "Thanks, got it.\n" + t.value; });
    await page.locator("#send-button").click();
    await page.locator("#status", { hasText: "Message sent." }).waitFor({ timeout: 15000 });
    return { to, subject, quoted,
             delivered: await ask({ op: "delivered", to: cfg.alice[0], subject }) };
  });

  await step("forward", async () => {
    await page.evaluate(() => { document.getElementById("status").textContent = ""; });
    await folder("inbox").click();
    await openMessage("Report with attachment");
    await page.locator("#forward-button").click();
    await page.locator("#compose-attachments li", { hasText: "report.bin" }).waitFor();
    await page.locator("#compose-to").fill(cfg.alice[0]);
    const subject = await page.locator("#compose-subject").inputValue();
    await page.locator("#send-button").click();
    await page.locator("#status", { hasText: "Message sent." }).waitFor({ timeout: 15000 });
    return { subject, delivered: await ask({ op: "delivered", to: cfg.alice[0], subject }) };
  });

  // Bob's inbox shows the message he replied to as a conversation of two
  // (his reply is in Sent); opening it lists both, and each opens.  The
  // list is by time received, in seconds: when the reply went out within
  // the second the original came, either may come first, so the reply is
  // picked by its folder.
  await step("thread", async () => {
    await folder("inbox").click();
    const r = row("Report with attachment");
    await r.locator(".thread-count").waitFor();
    const count = await r.locator(".thread-count").textContent();
    const rows = await r.count();
    await openMessage("Report with attachment");
    await page.locator("#thread-list .thread-item").nth(1).waitFor();
    const folders = await page.locator("#thread-list .thread-item .folder").allTextContents();
    await page.locator("#thread-list .thread-item",
                       { has: page.locator(".folder", { hasText: /^Sent$/i }) }).click();
    await page.locator("#reader-subject", { hasText: "Re: Report with attachment" }).waitFor();
    return { count, rows, folders, opened: await page.locator("#reader-subject").textContent(),
             selected: await page.locator("#thread-list .thread-item.selected .folder").textContent() };
  });

  await step("paging", async () => {
    await folder("inbox").click();
    await page.locator("#list-range", { hasText: "of 53" }).waitFor();
    const first = await page.locator("#list-range").textContent();
    const rows = await page.locator("#message-list .message").count();
    await page.locator("#next-page").click();
    await page.locator("#list-range", { hasText: "51–" }).waitFor();
    return { first, rows, second: await page.locator("#list-range").textContent(),
             rows2: await page.locator("#message-list .message").count(),
             oldest: await page.locator("#message-list .message .subject").last().textContent() };
  });

  await step("delete", async () => {
    await page.locator("#signout-button").click();
    await signIn(cfg.alice);
    await openMessage("Delete me");
    await page.locator("#delete-button").click();
    await row("Delete me").waitFor({ state: "detached" });
    await folder("trash").click();
    await row("Delete me").waitFor();
    return { imap: await ask({ op: "where", user: cfg.alice[0], subject: "Delete me" }) };
  });

  await step("move_and_unread", async () => {
    await folder("inbox").click();
    await openMessage("Logo inside");
    const archive = await folder("archive").getAttribute("data-mailbox");
    await page.locator("#move-select").selectOption(archive);
    await row("Logo inside").waitFor({ state: "detached" });
    await folder("archive").click();
    await openMessage("Logo inside");
    await page.locator("#unread-button").click();
    await page.locator("#message-list .message.unread", { hasText: "Logo inside" }).waitFor();
    return { imap: await ask({ op: "where", user: cfg.alice[0], subject: "Logo inside",
                               folders: ["INBOX", "Archive"], criteria: "UNSEEN" }) };
  });
} finally {
  await browser.close();
  // stdin stays open for requests: leave once the result is written
  process.stdout.write("@@RESULT " + JSON.stringify(result) + "\n", () => process.exit(0));
}
