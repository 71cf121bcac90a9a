// A contract test in TypeScript's world: the official @vercel/sdk calls `edgecache serve`, and
// the test checks what was sent through the fake's admin API (/__admin/), as a test of your
// own code would. Run it with `make test-node` (or `npm ci && npm test` here).
//
// The suite builds the command with `go build` into a temporary directory, unless
// EDGECACHE_BIN names a binary already built, and starts it on a free loopback port.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Vercel } from "@vercel/sdk";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TOKEN = "node-example-token-3f9a";

let server; // the edgecache serve process
let serverLog = []; // its stderr, shown when a test fails to start it
let base; // http://127.0.0.1:port
let vercel; // the SDK, pointed at the fake
let buildDir;

before(async () => {
  let bin = process.env.EDGECACHE_BIN;
  if (!bin) {
    buildDir = mkdtempSync(path.join(tmpdir(), "edgecache-node-"));
    bin = path.join(buildDir, "edgecache");
    execFileSync(process.env.GO ?? "go", ["build", "-o", bin, "./cmd/edgecache"], { cwd: repoRoot, stdio: "inherit" });
  }
  server = spawn(bin, ["serve", "--addr", "127.0.0.1:0", "--token", TOKEN], { stdio: ["ignore", "ignore", "pipe"] });
  base = await addressOf(server);
  vercel = new Vercel({ bearerToken: TOKEN, serverURL: base });
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

beforeEach(async () => {
  const res = await fetch(`${base}/__admin/reset`, { method: "POST" });
  assert.equal(res.status, 204);
});

// addressOf reads the address serve prints on stderr ("serving the fake endpoint on
// http://127.0.0.1:PORT"), and keeps reading stderr afterwards so that the server never
// blocks on a full pipe.
function addressOf(child) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`edgecache serve printed no address in 30 s:\n${serverLog.join("\n")}`)), 30_000);
    child.once("exit", (code) => reject(new Error(`edgecache serve exited ${code}:\n${serverLog.join("\n")}`)));
    createInterface({ input: child.stderr }).on("line", (line) => {
      if (serverLog.length < 200) serverLog.push(line);
      const m = line.match(/serving the fake endpoint on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}

// admin calls the admin API and returns the status and the parsed JSON answer (or null).
async function admin(method, pathAndQuery, body) {
  const res = await fetch(`${base}/__admin/${pathAndQuery}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : null };
}

// recorded returns GET /__admin/requests[?operation=…], checking that no answer holds the token.
async function recorded(operation) {
  const { status, text, json } = await admin("GET", "requests" + (operation ? `?operation=${operation}` : ""));
  assert.equal(status, 200);
  assert.ok(!text.includes(TOKEN), "the admin API must never show the bearer token");
  return json;
}

// The four operations, called as an application would, and the request each must put on the
// wire: path, query and body exactly.
const calls = [
  {
    operation: "invalidateByTags",
    call: () =>
      vercel.edgeCache.invalidateByTags({
        projectIdOrName: "my-app",
        teamId: "team_1a2b",
        requestBody: { tags: ["blog", "products"], target: "production" },
      }),
    path: "/v1/edge-cache/invalidate-by-tags",
    query: { projectIdOrName: "my-app", teamId: "team_1a2b" },
    body: { tags: ["blog", "products"], target: "production" },
  },
  {
    operation: "dangerouslyDeleteByTags",
    call: () =>
      vercel.edgeCache.dangerouslyDeleteByTags({
        projectIdOrName: "my-app",
        slug: "my-team",
        requestBody: { tags: "blog,products", revalidationDeadlineSeconds: 60 },
      }),
    path: "/v1/edge-cache/dangerously-delete-by-tags",
    query: { projectIdOrName: "my-app", slug: "my-team" },
    body: { tags: "blog,products", revalidationDeadlineSeconds: 60 },
  },
  {
    operation: "invalidateBySrcImages",
    call: () =>
      vercel.edgeCache.invalidateBySrcImages({
        projectIdOrName: "my-app",
        requestBody: { srcImages: ["/images/hero.png"] },
      }),
    path: "/v1/edge-cache/invalidate-by-src-images",
    query: { projectIdOrName: "my-app" },
    body: { srcImages: ["/images/hero.png"] },
  },
  {
    operation: "dangerouslyDeleteBySrcImages",
    call: () =>
      vercel.edgeCache.dangerouslyDeleteBySrcImages({
        projectIdOrName: "my-app",
        teamId: "team_1a2b",
        requestBody: { srcImages: ["/a.png", "https://cdn.example.com/b.jpg"], revalidationDeadlineSeconds: 0 },
      }),
    path: "/v1/edge-cache/dangerously-delete-by-src-images",
    query: { projectIdOrName: "my-app", teamId: "team_1a2b" },
    body: { srcImages: ["/a.png", "https://cdn.example.com/b.jpg"], revalidationDeadlineSeconds: 0 },
  },
];

describe("@vercel/sdk against edgecache serve", () => {
  test("each of the four operations is recorded exactly as the SDK sent it", async () => {
    for (const c of calls) {
      await c.call();
    }
    for (const c of calls) {
      const log = await recorded(c.operation);
      assert.equal(log.requests.length, 1, `${c.operation}: one request`);
      const r = log.requests[0];
      assert.deepEqual(
        { operation: r.operation, method: r.method, path: r.path, query: r.query, body: r.body, status: r.status },
        { operation: c.operation, method: "POST", path: c.path, query: c.query, body: c.body, status: 200 },
      );
      assert.equal(r.tokenSent, true);
      assert.equal(r.contentType, "application/json");
      assert.match(r.userAgent, /@vercel\/sdk/);
    }
    const all = await recorded();
    assert.deepEqual(
      all.requests.map((r) => r.operation),
      calls.map((c) => c.operation),
      "the log lists every request, oldest first",
    );
    assert.equal(all.dropped, 0);
  });

  test("two 429s, then success: the SDK's retry, seen through the log", async () => {
    const queued = await admin("POST", "faults", { operation: "invalidateByTags", status: 429, retryAfter: "1", times: 2 });
    assert.equal(queued.status, 201);
    assert.deepEqual(queued.json, { operation: "invalidateByTags", status: 429, retryAfter: "1", times: 2 });

    // Retries are off by default in the SDK; this call turns them on.
    await vercel.edgeCache.invalidateByTags(
      { projectIdOrName: "my-app", requestBody: { tags: ["blog"] } },
      {
        retries: {
          strategy: "backoff",
          backoff: { initialInterval: 50, maxInterval: 5_000, exponent: 1.5, maxElapsedTime: 30_000 },
          retryConnectionErrors: false,
        },
      },
    );

    const log = await recorded("invalidateByTags");
    assert.deepEqual(
      log.requests.map((r) => [r.status, r.fault ?? false]),
      [
        [429, true],
        [429, true],
        [200, false],
      ],
    );
    for (const r of log.requests) {
      assert.deepEqual(r.body, { tags: ["blog"] }, "every attempt sends the same body");
      assert.deepEqual(r.query, { projectIdOrName: "my-app" });
    }
    // The SDK honoured Retry-After: 1 between attempts.
    const times = log.requests.map((r) => Date.parse(r.time));
    for (let i = 1; i < times.length; i++) {
      assert.ok(times[i] - times[i - 1] >= 900, `attempt ${i + 1} came ${times[i] - times[i - 1]} ms after the previous one`);
    }
    const faults = await admin("GET", "faults");
    assert.deepEqual(faults.json, { faults: [] }, "both faults were used");
  });

  test("without retries, the 429 and its envelope reach the caller", async () => {
    await admin("POST", "faults", { status: 429, retryAfter: "30" });
    await assert.rejects(
      vercel.edgeCache.dangerouslyDeleteByTags({ projectIdOrName: "my-app", requestBody: { tags: ["blog"] } }),
      (err) => {
        assert.equal(err.statusCode, 429);
        assert.equal(JSON.parse(err.body).error.code, "rate_limited");
        assert.equal(err.headers.get("retry-after"), "30");
        return true;
      },
    );
    const log = await recorded();
    assert.equal(log.requests.length, 1);
  });

  test("a fault for one operation leaves the others alone", async () => {
    await admin("POST", "faults", { operation: "dangerouslyDeleteBySrcImages", status: 402 });
    await vercel.edgeCache.invalidateBySrcImages({ projectIdOrName: "my-app", requestBody: { srcImages: ["/a.png"] } });
    await assert.rejects(
      vercel.edgeCache.dangerouslyDeleteBySrcImages({ projectIdOrName: "my-app", requestBody: { srcImages: ["/a.png"] } }),
      (err) => err.statusCode === 402 && JSON.parse(err.body).error.code === "payment_required",
    );
    const log = await recorded();
    assert.deepEqual(
      log.requests.map((r) => [r.operation, r.status]),
      [
        ["invalidateBySrcImages", 200],
        ["dangerouslyDeleteBySrcImages", 402],
      ],
    );
  });

  test("the fake refuses what the spec forbids and the SDK does not check", async () => {
    // The SDK checks types only: 17 tags and a 9-image list go out, and the fake says why not.
    const tags = Array.from({ length: 17 }, (_, i) => `tag-${i}`);
    await assert.rejects(
      vercel.edgeCache.invalidateByTags({ projectIdOrName: "my-app", requestBody: { tags } }),
      (err) => err.statusCode === 400 && JSON.parse(err.body).error.message === "tags: must hold at most 16 items (got 17)",
    );
    const srcImages = Array.from({ length: 9 }, (_, i) => `/img-${i}.png`);
    await assert.rejects(
      vercel.edgeCache.invalidateBySrcImages({ projectIdOrName: "my-app", requestBody: { srcImages } }),
      (err) => err.statusCode === 400 && JSON.parse(err.body).error.message === "srcImages: must hold at most 8 items (got 9)",
    );
    const log = await recorded();
    assert.deepEqual(
      log.requests.map((r) => [r.operation, r.status, r.body]),
      [
        ["invalidateByTags", 400, { tags }],
        ["invalidateBySrcImages", 400, { srcImages }],
      ],
    );
  });

  test("the spec the fake validates against is served", async () => {
    const spec = await admin("GET", "spec");
    assert.equal(spec.status, 200);
    const ids = Object.values(spec.json.paths).map((item) => item.post.operationId);
    assert.deepEqual(ids.sort(), calls.map((c) => c.operation).sort());
  });
});
