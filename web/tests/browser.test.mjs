// The widget and the console in a real browser (Debian's chromium, driven by playwright-core),
// against the real server. Run by ./scripts/test; alone: `cd web && npm test`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PASSWORD, freePort, launch, page, repo, startServer, until } from "./harness.mjs";

const PHONE = { width: 375, height: 667 };
const DESKTOP = { width: 1280, height: 800 };
const shots = process.env.SCREENSHOT_DIR;

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/**
 * Runs `body` against a fresh server (started with `env`), then checks that no page reported a
 * script error, and stops the server.
 */
async function scenario(env, body) {
  if (typeof env === "function") [env, body] = [{}, env];
  const server = await startServer(env);
  const errors = [];
  try {
    await body({ server, errors });
    assert.deepEqual(errors, []);
  } catch (error) {
    // The server's warnings and errors explain most failures.
    console.error(`server log:\n${server.log.join("")}`);
    throw error;
  } finally {
    await server.close();
  }
}

/** A customer's page with the widget open and a conversation started. */
async function customer(server, errors, { viewport = DESKTOP, name = "John Doe", path = "/", context } = {}) {
  const ctx = context || (await browser.newContext({ viewport }));
  const p = await page(ctx, errors);
  await p.goto(server.url + path);
  const launcher = p.getByRole("button", { name: "Open chat" });
  await launcher.click();
  await p.getByRole("button", { name: "Close chat" }).waitFor();
  await p.getByLabel("Name").fill(name);
  await p.getByLabel("Email").fill("john@example.com");
  await p.getByLabel("Phone").fill("+1 555 010 0199");
  await p.getByRole("button", { name: "Start chat" }).click();
  await p.getByLabel("Message", { exact: true }).waitFor();
  return p;
}

/** Types and sends a message in the widget (Enter sends). */
async function say(p, text) {
  const box = p.getByLabel("Message", { exact: true });
  await box.fill(text);
  await box.press("Enter");
}

/** An agent signed in to the console. */
async function agentConsole(server, errors, username, { viewport = DESKTOP } = {}) {
  const ctx = await browser.newContext({ viewport });
  const p = await page(ctx, errors);
  await p.goto(server.url + "/console");
  await p.getByLabel("Username").fill(username);
  await p.getByLabel("Password").fill(PASSWORD);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("button", { name: "Sign out" }).waitFor();
  return p;
}

function queueEntry(p, name) {
  return p.getByRole("list", { name: "Queue" }).getByRole("listitem").filter({ hasText: name });
}

/** The widget's log, where every message is. */
const log = (p) => p.getByRole("log");

describe("the widget and the console", () => {
  test("the journey: assistant, hand-off, claim, chat with typing, back to the assistant, close", () => scenario(async ({ server, errors }) => {
    await server.agent("ada", "Ada Lovelace");
    const agent = await agentConsole(server, errors, "ada");
    const widget = await customer(server, errors);
    await say(widget, "How long does shipping take?");
    await log(widget).getByText("working days").first().waitFor();

    await widget.getByRole("button", { name: "Talk to a person" }).click();
    await log(widget).getByText("connecting you with a human agent").waitFor();
    // The agent sees the entry appear without reloading, and claims it.
    // The queue entry says what the customer wanted before the agent opens it.
    await queueEntry(agent, "John Doe").getByText("How long does shipping take?").waitFor();
    await queueEntry(agent, "John Doe").getByRole("button", { name: "Claim" }).click();
    await agent.getByRole("list", { name: "My conversations" }).getByText("John Doe").waitFor();
    await log(widget).getByText("Ada Lovelace (a person) has joined").waitFor();
    // The summary, and the knowledge base's passages for the customer's latest message.
    await agent.getByText(/^Summary: The customer wrote/).waitFor();
    const suggestions = agent.getByRole("list", { name: "Suggested passages" });
    await suggestions.getByRole("button", { name: /Use the passage “How long does shipping take\?”/ }).click();
    assert.match(await agent.getByRole("textbox", { name: "Reply" }).inputValue(), /working days/);
    await agent.getByRole("textbox", { name: "Reply" }).fill("");
    if (shots) await agent.screenshot({ path: join(shots, "console.png") });

    // Typing shows both ways, then the messages.
    await agent.getByLabel("Reply").pressSequentially("Hi John");
    await widget.getByText("Typing…").waitFor();
    await agent.getByRole("button", { name: "Send" }).click();
    await log(widget).getByText("Hi John").waitFor();
    assert.equal(await log(widget).locator(".msg.admin .badge").first().textContent(), "person");
    await widget.getByLabel("Message", { exact: true }).pressSequentially("Thanks");
    await agent.getByText("The customer is typing").waitFor();
    await widget.getByLabel("Message", { exact: true }).press("Enter");
    await agent.getByRole("log", { name: "Transcript" }).getByText("Thanks").waitFor();
    if (shots) await widget.screenshot({ path: join(shots, "widget.png") });

    // Back to the assistant, which answers the next question.
    await agent.getByRole("button", { name: "Return to assistant" }).click();
    await log(widget).getByText("virtual assistant again").waitFor();
    const answers = await log(widget).locator(".msg.ai").count();
    await say(widget, "Can I return an item?");
    await until(async () => (await log(widget).locator(".msg.ai").count()) > answers, 10000, "the assistant's answer");

    // A second hand-off; the agent claims it again and closes it.
    await widget.getByRole("button", { name: "Talk to a person" }).click();
    await queueEntry(agent, "John Doe").getByRole("button", { name: "Claim" }).click();
    await log(widget).getByText("has joined").nth(1).waitFor();
    await agent.getByRole("button", { name: "Close conversation" }).click();
    await log(widget).getByText("This conversation has been closed").waitFor();
    await widget.getByRole("button", { name: "Start a new conversation" }).waitFor();
  }));

  test("not sure: the assistant offers the closest topics as a list, and Spanish customers read Spanish", () => scenario(async ({ server, errors }) => {
    const widget = await customer(server, errors);
    await say(widget, "can you help with the address thing");
    const reply = log(widget).locator(".msg.ai").filter({ hasText: "Is your question about one of these?" });
    await reply.waitFor();
    const lines = (await reply.innerText()).split("\n").map((l) => l.trim());
    assert.ok(lines.includes("• How do I change my delivery address?"), lines.join(" | "));
    if (shots) await widget.screenshot({ path: join(shots, "widget-not-sure.png") });
    await say(widget, "hola, ¿cuánto cuesta el envío a Canarias y la contraseña?");
    await log(widget).getByText(/^No estoy seguro/).waitFor();
  }));

  test("two agents claim the same customer at once: one holds it, the other is told who", () => scenario(async ({ server, errors }) => {
    const first = await server.agent("ada", "Ada Lovelace");
    await server.agent("grace", "Grace Hopper", first);
    const ada = await agentConsole(server, errors, "ada");
    const grace = await agentConsole(server, errors, "grace");
    const widget = await customer(server, errors);
    await widget.getByRole("button", { name: "Talk to a person" }).click();
    const buttons = await Promise.all([ada, grace].map(async (p) => {
      const button = queueEntry(p, "John Doe").getByRole("button", { name: "Claim" });
      await button.waitFor();
      return button.elementHandle();
    }));
    // Both press at once (the handles stay clickable even if the list re-renders).
    await Promise.all(buttons.map((b) => b.dispatchEvent("click")));
    const holds = async (p) => (await p.getByRole("list", { name: "My conversations" }).getByText("John Doe").count()) > 0;
    const winner = await until(async () => ((await holds(ada)) ? "ada" : (await holds(grace)) ? "grace" : null), 10000, "a winner");
    const [loser, winnerName] = winner === "ada" ? [grace, "Ada Lovelace"] : [ada, "Grace Hopper"];
    await loser.getByRole("alert").filter({ hasText: winnerName }).waitFor();
    await until(async () => (await queueEntry(loser, "John Doe").count()) === 0, 5000, "the entry to leave the queue");
    assert.equal(await holds(loser), false);
  }));

  test("message text is text: markup a customer types does not run in the console or the widget", () => scenario(async ({ server, errors }) => {
    await server.agent("ada", "Ada Lovelace");
    const agent = await agentConsole(server, errors, "ada");
    const widget = await customer(server, errors, { name: "<b>Mallory</b>" });
    const attack = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>';
    await widget.getByRole("button", { name: "Talk to a person" }).click();
    await say(widget, attack);
    await queueEntry(agent, "<b>Mallory</b>").getByRole("button", { name: "Claim" }).click();
    const transcript = agent.getByRole("log", { name: "Transcript" });
    await transcript.getByText(attack).waitFor();
    await agent.getByLabel("Reply").fill("<script>window.__pwned=3</script>");
    await agent.getByRole("button", { name: "Send" }).click();
    await log(widget).getByText("<script>window.__pwned=3</script>").waitFor();
    assert.equal(await log(widget).getByText(attack).count(), 1);
    for (const p of [agent, widget]) {
      assert.equal(await p.evaluate(() => window.__pwned), undefined);
      assert.equal(await p.locator("img[src=x]").count(), 0);
    }
    assert.equal(await widget.evaluate(() => document.querySelector("#switchboard-widget").shadowRoot.querySelectorAll(".log img, .log script").length), 0);
  }));

  test("a reload and a second tab continue the conversation; a message sent while the server is down arrives once", () => scenario(async ({ server, errors }) => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const tab = await customer(server, errors, { context });
    await say(tab, "How long does shipping take?");
    await log(tab).getByText("working days").first().waitFor();
    const count = (p, text) => log(p).locator(".msg").filter({ hasText: text }).count();

    await tab.reload();
    await tab.getByRole("button", { name: "Open chat" }).click();
    await log(tab).getByText("working days").first().waitFor();
    assert.equal(await count(tab, "How long does shipping take?"), 1);
    assert.equal(await count(tab, "working days"), 1);

    const second = await page(context, errors);
    await second.goto(server.url + "/");
    await second.getByRole("button", { name: "Open chat" }).click();
    await log(second).getByText("How long does shipping take?").waitFor();
    await say(second, "And to Canada?");
    await log(tab).getByText("And to Canada?").waitFor();
    await until(async () => (await count(second, "And to Canada?")) === 1 && (await count(tab, "And to Canada?")) === 1, 5000, "one copy in each tab");

    // The server stops; the customer writes; the server comes back.
    await server.stop();
    await tab.getByText("You are offline").waitFor();
    await say(tab, "Are you there?");
    await server.start();
    await until(async () => (await log(tab).locator('[data-pending="true"]').count()) === 0, 20000, "the pending message to be acknowledged");
    await tab.getByText("You are offline").waitFor({ state: "hidden" });
    const sessionId = await tab.evaluate(() => JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith("switchboard:"))[1]).sessionId);
    const history = await (await fetch(`${server.url}/api/sessions/${sessionId}/messages`)).json();
    assert.equal(history.filter((m) => m.content === "Are you there?").length, 1, "stored once");
    await until(async () => (await count(second, "Are you there?")) === 1, 20000, "the second tab to catch up");
    assert.equal(await count(tab, "Are you there?"), 1);
  }));

  test("with CLIENT_TOKENS=required the widget sends its token: chat, reload, continue", () => scenario({ CLIENT_TOKENS: "required" }, async ({ server, errors }) => {
    const widget = await customer(server, errors);
    await say(widget, "How long does shipping take?");
    await log(widget).getByText("working days").first().waitFor();
    await widget.reload();
    await widget.getByRole("button", { name: "Open chat" }).click();
    await log(widget).getByText("working days").first().waitFor();
    await say(widget, "Can I return an item?");
    await until(async () => (await log(widget).locator(".msg.ai").count()) >= 2, 10000, "the second answer");
  }));

  test("the widget works embedded on another origin named in CORS_ORIGINS", async () => {
    const hostPort = await freePort();
    const hostOrigin = `http://127.0.0.1:${hostPort}`;
    const server = await startServer({ CORS_ORIGINS: hostOrigin });
    const site = createServer((request, response) => {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      response.end(`<!DOCTYPE html><html lang="en"><head><title>Shop</title>
        <style>button { background: red !important; font-size: 40px !important; }</style></head>
        <body><h1>A shop</h1><script src="${server.url}/widget.js" data-title="Shop support" data-color="#7b1fa2" defer></script></body></html>`);
    });
    await new Promise((r) => site.listen(hostPort, "127.0.0.1", r));
    const errors = [];
    try {
      const widget = await customer({ url: hostOrigin }, errors);
      await widget.getByRole("dialog", { name: "Shop support" }).waitFor();
      await say(widget, "How long does shipping take?");
      await log(widget).getByText("working days").first().waitFor();
      // The host page's CSS does not reach into the widget.
      const size = await widget.getByRole("button", { name: "Send" }).evaluate((b) => getComputedStyle(b).fontSize);
      assert.notEqual(size, "40px");
      assert.deepEqual(errors, []);
    } finally {
      site.close();
      await server.close();
    }
  });

  test("data-* options and the JS API: language, position, identify, open", async () => {
    const hostPort = await freePort();
    const hostOrigin = `http://127.0.0.1:${hostPort}`;
    const server = await startServer({ CORS_ORIGINS: hostOrigin });
    const site = createServer((request, response) => {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      response.end(`<!DOCTYPE html><html lang="de"><head><title>Laden</title></head><body><h1>Ein Laden</h1>
        <script src="${server.url}/widget.js" data-lang="de" data-position="left" defer></script></body></html>`);
    });
    await new Promise((r) => site.listen(hostPort, "127.0.0.1", r));
    const errors = [];
    try {
      const p = await page(await browser.newContext({ viewport: DESKTOP }), errors);
      await p.goto(hostOrigin);
      const launcher = p.getByRole("button", { name: "Chat öffnen" });
      await launcher.waitFor();
      assert.ok((await launcher.boundingBox()).x < DESKTOP.width / 2, "bottom-left");
      // A signed-in customer: no form.
      await p.evaluate(() => {
        window.Switchboard.identify({ name: "Erika Muster", email: "erika@example.com", phone: "+49 30 1234 5678" });
        window.Switchboard.open();
      });
      await p.getByRole("button", { name: "Chat schließen" }).waitFor();
      const box = p.getByLabel("Nachricht", { exact: true });
      await box.waitFor();
      assert.equal(await p.getByLabel("Name").isVisible(), false);
      await box.fill("How long does shipping take?");
      await box.press("Enter");
      await log(p).getByText("working days").first().waitFor();
      await p.evaluate(() => window.Switchboard.close());
      await launcher.waitFor();
      assert.deepEqual(errors, []);
    } finally {
      site.close();
      await server.close();
    }
  });

  test("the console renews its access token before it expires, and signing out forgets it", () => scenario({ ACCESS_TOKEN_EXPIRE_MINUTES: "1" }, async ({ server, errors }) => {
    await server.agent("ada", "Ada Lovelace");
    const renewed = [];
    const agent = await agentConsole(server, errors, "ada");
    agent.on("response", (r) => { if (r.url().endsWith("/api/auth/refresh")) renewed.push(r.status()); });
    // With one-minute tokens the console renews a few seconds after signing in.
    await agent.waitForResponse((r) => r.url().endsWith("/api/auth/refresh"), { timeout: 20000 });
    assert.deepEqual(renewed, [200]);
    const widget = await customer(server, errors);
    await widget.getByRole("button", { name: "Talk to a person" }).click();
    await queueEntry(agent, "John Doe").getByRole("button", { name: "Claim" }).click();
    await agent.getByRole("list", { name: "My conversations" }).getByText("John Doe").waitFor();
    await agent.getByRole("list", { name: "History" }).getByText("John Doe").waitFor();
    const stored = await agent.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes("eyJ"), `no token in storage: ${stored}`);
    await agent.getByRole("button", { name: "Sign out" }).click();
    await agent.getByRole("button", { name: "Sign in" }).waitFor();
    assert.equal(await agent.getByRole("list", { name: "My conversations" }).isVisible(), false);
  }));

  test("axe finds no serious or critical violation on the pages", async () => {
    const server = await startServer();
    const axe = readFileSync(join(repo, "web", "node_modules", "axe-core", "axe.min.js"), "utf8");
    const errors = [];
    const audit = async (p, what) => {
      await p.addScriptTag({ content: axe });
      const result = await p.evaluate(async () => (await window.axe.run(document)).violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`));
      assert.deepEqual(result, [], what);
    };
    try {
      await server.agent("ada", "Ada Lovelace");
      const context = await browser.newContext({ viewport: DESKTOP, bypassCSP: true });
      const home = await page(context, errors);
      await home.goto(server.url + "/");
      await home.getByRole("button", { name: "Open chat" }).waitFor();
      await audit(home, "/ with the widget closed");
      await home.getByRole("button", { name: "Open chat" }).click();
      await home.getByLabel("Name").waitFor();
      await audit(home, "/ with the widget open");
      const consolePage = await page(context, errors);
      await consolePage.goto(server.url + "/console");
      await audit(consolePage, "the console, signed out");
      await consolePage.getByLabel("Username").fill("ada");
      await consolePage.getByLabel("Password").fill(PASSWORD);
      await consolePage.getByRole("button", { name: "Sign in" }).click();
      await consolePage.getByRole("button", { name: "Sign out" }).waitFor();
      await audit(consolePage, "the console, signed in");
      assert.deepEqual(errors, []);
    } finally {
      await server.close();
    }
  });

  test("on a phone (375×667) the widget and the console are usable", () => scenario(async ({ server, errors }) => {
    await server.agent("ada", "Ada Lovelace");
    const opened = Date.now();
    const widget = await customer(server, errors, { viewport: PHONE });
    await say(widget, "How long does shipping take?");
    await log(widget).getByText("working days").first().waitFor();
    for (const name of ["Send", "Talk to a person", "Close chat"]) {
      const box = await widget.getByRole("button", { name }).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width && box.y + box.height <= PHONE.height, `${name} is on screen: ${JSON.stringify(box)}`);
    }
    if (shots) await widget.screenshot({ path: join(shots, "widget-phone.png") });
    await widget.getByRole("button", { name: "Talk to a person" }).click();

    const agent = await agentConsole(server, errors, "ada", { viewport: PHONE });
    await queueEntry(agent, "John Doe").getByRole("button", { name: "Claim" }).click();
    await agent.getByLabel("Reply").fill("Hello from a phone");
    await agent.getByRole("button", { name: "Send" }).click();
    await log(widget).getByText("Hello from a phone").waitFor();
    const overflow = await agent.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= PHONE.width, `the console fits the width (${overflow}px)`);
    if (shots) await agent.screenshot({ path: join(shots, "console-phone.png"), fullPage: true });
    assert.deepEqual(errors, []);
    console.log(`phone journey took ${Date.now() - opened} ms`);
  }));

  test("keyboard alone: Enter sends, Shift+Enter is a new line, Esc closes and gives focus back", () => scenario(async ({ server, errors }) => {
    const widget = await customer(server, errors);
    const box = widget.getByLabel("Message", { exact: true });
    await box.focus();
    await widget.keyboard.type("first line");
    await widget.keyboard.press("Shift+Enter");
    await widget.keyboard.type("second line");
    assert.equal(await box.inputValue(), "first line\nsecond line");
    await widget.keyboard.press("Enter");
    await log(widget).getByText("first line\nsecond line").waitFor();
    await widget.keyboard.press("Escape");
    await widget.getByRole("button", { name: "Open chat" }).waitFor();
    const focused = await widget.evaluate(() => document.querySelector("#switchboard-widget").shadowRoot.activeElement?.getAttribute("aria-label"));
    assert.equal(focused, "Open chat");
    // The panel opens fast: from the click to the panel on screen.
    const ms = await widget.evaluate(() => new Promise((done) => {
      const root = document.querySelector("#switchboard-widget").shadowRoot;
      const start = performance.now();
      root.querySelector(".launcher").click();
      requestAnimationFrame(() => done(root.querySelector(".panel").hidden ? -1 : performance.now() - start));
    }));
    assert.ok(ms >= 0, "the panel is shown");
    console.log(`the panel opened in ${ms.toFixed(1)} ms`);
  }));
});
