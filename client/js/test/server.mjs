// A real Herald server for the SDK's tests: `herald serve` started as a
// child process (HERALD_BIN, or built from this repository with go build),
// with the admin API and the CLI to create accounts, mint tokens and
// publish.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(fileURLToPath(import.meta.url), "../../../..");
let built;

export function heraldBinary() {
  if (process.env.HERALD_BIN) return process.env.HERALD_BIN;
  if (!built) {
    built = join(mkdtempSync(join(tmpdir(), "herald-js-")), "herald");
    execFileSync("go", ["build", "-o", built, "./cmd/herald"], { cwd: repo, stdio: "inherit" });
  }
  return built;
}

const adminToken = "js-test-admin-token";

// startServer runs herald serve on its own data directory and free ports;
// restart() stops it and starts it again on the same directory and ports.
export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "herald-js-data-"));
  const server = { dir, adminToken, addrs: null, proc: null };
  const run = async (listen) => {
    const args = ["serve", "--data-dir", dir, "--admin-token", adminToken, "--quota-verified", "0",
      "--client-listen", listen.client, "--publisher-listen", listen.publisher, "--admin-listen", listen.admin,
      "--ws-origins", "http://127.0.0.1"];
    const proc = spawn(heraldBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    proc.stderr.on("data", (b) => (stderr += b));
    const addrs = await new Promise((resolvePromise, reject) => {
      let out = "";
      const found = {};
      proc.stdout.on("data", (b) => {
        out += b;
        for (const line of out.split("\n")) {
          const m = line.match(/^herald: (clients|publishers|admin)\s+(\S+)/);
          if (m) found[m[1]] = m[2];
        }
        if (out.includes("herald: serving")) resolvePromise(found);
      });
      proc.on("exit", (code) => reject(new Error(`herald serve exited ${code}: ${stderr}`)));
    });
    server.proc = proc;
    server.addrs = {
      client: addrs.clients.replace("tcp://", ""),
      publisher: addrs.publishers.replace("tcp://", ""),
      admin: addrs.admin,
    };
  };
  await run({ client: "127.0.0.1:0", publisher: "127.0.0.1:0", admin: "127.0.0.1:0" });
  server.wsURL = () => `ws://${server.addrs.client}/`;
  server.stop = async () => {
    const proc = server.proc;
    if (!proc || proc.exitCode !== null) return;
    await new Promise((r) => {
      proc.once("exit", r);
      proc.kill("SIGTERM");
    });
  };
  server.restart = async () => {
    const { client, publisher, admin } = server.addrs;
    await server.stop();
    await run({ client, publisher, admin: admin.replace("http://", "") });
  };
  server.close = async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  server.admin = async (method, path, body, type = "application/json") => {
    const res = await fetch(server.addrs.admin + path, {
      method,
      headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": type },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  server.account = async (followers) => {
    const a = await server.admin("POST", "/v1/accounts", { name: "js", tier: "verified" });
    await server.admin("POST", `/v1/accounts/${a.id}/followers`, followers.join("\n") + "\n", "text/plain");
    return a;
  };
  server.token = async (user) => (await server.admin("POST", "/v1/tokens", { user })).token;
  // publish sends one broadcast with the CLI and returns its message id.
  server.publish = (account, text) => {
    const out = execFileSync(heraldBinary(), ["publish", "--account", String(account.id), "--secret", account.secret,
      "--publisher-addr", server.addrs.publisher, text], { encoding: "utf8" });
    const m = out.match(/message (\d+)/);
    if (!m) throw new Error(`publish: ${out}`);
    return BigInt(m[1]);
  };
  // herald runs one herald CLI command (a publisher's, as account) and
  // returns its output.
  server.herald = (account, ...args) =>
    execFileSync(heraldBinary(), [args[0], ...(args[0] === "template" ? [args[1]] : []), "--account", String(account.id),
      "--secret", account.secret, "--publisher-addr", server.addrs.publisher, ...args.slice(args[0] === "template" ? 2 : 1)], { encoding: "utf8" });
  return server;
}
