// Starts the real server and a real browser for the browser tests.
//
// SWITCHBOARD_BIN names the server binary (scripts/test builds it: target/debug/switchboard);
// CHROMIUM names the browser (default /usr/bin/chromium, Debian's package).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = fileURLToPath(new URL(".", import.meta.url));
export const repo = resolve(here, "..", "..");
export const binary = process.env.SWITCHBOARD_BIN || join(repo, "target", "debug", "switchboard");
export const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
export const SECRET = "browser-test-secret-key-0123456789abcdef";
export const PASSWORD = "correct horse battery staple";

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

/** Waits until `check()` is truthy, polling; fails after `ms`. */
export async function until(check, ms = 10000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A running server on its own port and SQLite file. `stop()` ends it (SIGTERM); `start()` starts
 * it again on the same port and database, as after a restart.
 */
export async function startServer(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-web-"));
  const port = await freePort();
  const server = {
    port,
    url: `http://127.0.0.1:${port}`,
    child: null,
    log: [],
    async start() {
      const child = spawn(binary, ["serve"], {
        cwd: repo,
        env: {
          ...process.env,
          HOST: "127.0.0.1",
          PORT: String(port),
          DATABASE_URL: `sqlite://${join(dir, "chat.db")}`,
          SECRET_KEY: SECRET,
          DEBUG: "false",
          KNOWLEDGE_BASE: join(repo, "knowledge_base"),
          // Answers must not change when the embeddings finish loading mid-test.
          EMBEDDING_MODEL: "off",
          RUST_LOG: "warn",
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout.on("data", (d) => server.log.push(String(d)));
      child.stderr.on("data", (d) => server.log.push(String(d)));
      server.child = child;
      await until(async () => {
        if (child.exitCode != null) throw new Error(`server exited: ${server.log.join("")}`);
        try { return (await fetch(`${server.url}/health`)).ok; } catch { return false; }
      }, 20000, "the server to answer /health");
    },
    async stop() {
      const child = server.child;
      if (!child || child.exitCode != null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    /** Registers an agent (the first one freely, later ones with `by`'s token); returns tokens. */
    async agent(username, fullName, by) {
      const response = await fetch(`${server.url}/api/auth/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(by ? { Authorization: `Bearer ${by.access_token}` } : {}) },
        body: JSON.stringify({ username, email: `${username}@example.com`, password: PASSWORD, full_name: fullName }),
      });
      if (response.status !== 201) throw new Error(`register ${username}: ${response.status} ${await response.text()}`);
      return response.json();
    },
  };
  await server.start();
  return server;
}

export async function launch() {
  return chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** A page that fails the test on any script error or CSP violation it reports. */
export async function page(context, errors) {
  const p = await context.newPage();
  p.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  p.on("console", (message) => {
    if (message.type() === "error" && !/Failed to load resource|WebSocket connection/.test(message.text())) {
      errors.push(`console: ${message.text()}`);
    }
  });
  return p;
}
