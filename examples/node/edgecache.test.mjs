// A contract test in TypeScript's world: the official @vercel/sdk calls `edgecache serve`, and
// the test checks what was sent through the fake's admin API (/__admin/), as a test of your
// own code would. Then the same SDK purges a site behind `edgecache serve --origin`, and fetch
// through its local CDN sees what the purge did. Run it with `make test-node` (or
// `npm ci && npm test` here).
//
// The suite builds the command with `go build` into a temporary directory, unless
// EDGECACHE_BIN names a binary already built, and starts it on a free loopback port.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Vercel } from "@vercel/sdk";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TOKEN = "node-example-token-3f9a";

let bin; // the edgecache binary
let buildDir;
const servers = []; // every edgecache serve started, stopped after all tests
let base; // the plain fake: http://127.0.0.1:port
let vercel; // the SDK, pointed at it

before(async () => {
  bin = process.env.EDGECACHE_BIN;
  if (!bin) {
    buildDir = mkdtempSync(path.join(tmpdir(), "edgecache-node-"));
    bin = path.join(buildDir, "edgecache");
    execFileSync(process.env.GO ?? "go", ["build", "-o", bin, "./cmd/edgecache"], { cwd: repoRoot, stdio: "inherit" });
  }
  ({ api: base } = await startServe());
  vercel = new Vercel({ bearerToken: TOKEN, serverURL: base });
});

after(async () => {
  for (const child of servers) {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  }
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

// startServe runs `edgecache serve` on a free loopback port with extra flags, and returns the
// API's base URL and, with --origin, the CDN's, as serve prints them on stderr ("serving the
// fake endpoint on http://127.0.0.1:PORT", "serving the CDN on http://127.0.0.1:PORT in
// front of …"). It keeps reading stderr afterwards, so that the server never blocks on a full
// pipe.
function startServe(...flags) {
  const child = spawn(bin, ["serve", "--addr", "127.0.0.1:0", "--token", TOKEN, ...flags], { stdio: ["ignore", "ignore", "pipe"] });
  servers.push(child);
  const wantCDN = flags.includes("--origin");
  const log = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`edgecache serve printed no address in 30 s:\n${log.join("\n")}`)), 30_000);
    child.once("exit", (code) => reject(new Error(`edgecache serve exited ${code}:\n${log.join("\n")}`)));
    const found = {};
    createInterface({ input: child.stderr }).on("line", (line) => {
      if (log.length < 200) log.push(line);
      found.api ??= line.match(/serving the fake endpoint on (http:\/\/\S+)/)?.[1];
      found.cdn ??= line.match(/serving the CDN on (http:\/\/\S+) in front of/)?.[1];
      if (found.api && (found.cdn || !wantCDN)) {
        clearTimeout(timer);
        resolve(found);
      }
    });
  });
}

beforeEach(async () => {
  const res = await fetch(`${base}/__admin/reset`, { method: "POST" });
  assert.equal(res.status, 204);
});

// admin calls the admin API (of the plain fake, or of the server at api) and returns the
// status and the parsed JSON answer (or null).
async function admin(method, pathAndQuery, body, api = base) {
  const res = await fetch(`${api}/__admin/${pathAndQuery}`, {
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

// The same SDK against `edgecache serve --origin`: a local emulation of Vercel's CDN in front
// of a site, on which the fake's purges act. The site here is a node:http server; each page
// says how many times the origin rendered it, so that a cached answer can be told from a
// fresh one. --frozen-clock stops the fake's time: no TTL runs out while the test runs, and
// waiting for a background revalidation uses the admin API (?wait=1), not a sleep.
describe("@vercel/sdk purges the CDN of edgecache serve --origin, and fetch sees it", () => {
  let site; // the origin
  let renders; // how many times the origin rendered each path
  let api; // that serve's API and admin API
  let cdn; // its CDN: the site as Vercel's CDN would serve it
  let sdk; // @vercel/sdk, pointed at that serve

  before(async () => {
    renders = new Map();
    site = createServer((req, res) => {
      const n = (renders.get(req.url) ?? 0) + 1;
      renders.set(req.url, n);
      res.setHeader("Cache-Control", "public, s-maxage=60, stale-while-revalidate=300");
      res.setHeader("Vercel-Cache-Tag", `blog,post-${path.basename(req.url)}`);
      res.setHeader("Content-Type", "text/plain");
      res.end(`${req.url}: render #${n}`);
    });
    await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${site.address().port}`;
    ({ api, cdn } = await startServe("--origin", origin, "--cdn-addr", "127.0.0.1:0", "--frozen-clock"));
    sdk = new Vercel({ bearerToken: TOKEN, serverURL: api });
  });

  after(async () => {
    site.closeAllConnections();
    await new Promise((resolve) => site.close(resolve));
  });

  // page fetches a path through the CDN: x-vercel-cache, the body, and the headers.
  async function page(p) {
    const res = await fetch(`${cdn}${p}`);
    assert.equal(res.status, 200);
    return { cache: res.headers.get("x-vercel-cache"), body: await res.text(), headers: res.headers };
  }

  test("invalidateByTags: the page is STALE at once, then fresh", async () => {
    assert.deepEqual(await pick(page("/blog/hello")), { cache: "MISS", body: "/blog/hello: render #1" });
    const hit = await page("/blog/hello");
    assert.deepEqual({ cache: hit.cache, body: hit.body }, { cache: "HIT", body: "/blog/hello: render #1" });
    assert.equal(hit.headers.get("vercel-cache-tag"), null, "the CDN consumes Vercel-Cache-Tag");
    assert.equal(hit.headers.get("age"), "0", "the clock is frozen");

    await sdk.edgeCache.invalidateByTags({ projectIdOrName: "my-app", requestBody: { tags: ["blog"] } });

    // The stale page at once, while one background revalidation asks the origin again.
    assert.deepEqual(await pick(page("/blog/hello")), { cache: "STALE", body: "/blog/hello: render #1" });
    const settled = await admin("GET", "cache?url=/blog/hello&wait=1", undefined, api);
    assert.equal(settled.status, 200);
    assert.equal(settled.json.entries[0].state, "fresh", settled.text);
    assert.deepEqual(await pick(page("/blog/hello")), { cache: "HIT", body: "/blog/hello: render #2" });
    assert.equal(renders.get("/blog/hello"), 2, "one revalidation, not one per request");

    // The admin API says what the purge matched; the API's own answer was Vercel's 200.
    const cache = await admin("GET", "cache", undefined, api);
    const purge = cache.json.purges.at(-1);
    assert.deepEqual(
      { operation: purge.operation, tags: purge.tags, applied: purge.applied, matched: purge.matched },
      { operation: "invalidateByTags", tags: ["blog"], applied: true, matched: 1 },
    );
  });

  test("dangerouslyDeleteByTags: the next request waits for the origin (REVALIDATED)", async () => {
    assert.equal((await page("/blog/deleted")).cache, "MISS");
    await sdk.edgeCache.dangerouslyDeleteByTags({ projectIdOrName: "my-app", requestBody: { tags: ["post-deleted"] } });
    assert.deepEqual(await pick(page("/blog/deleted")), { cache: "REVALIDATED", body: "/blog/deleted: render #2" });
    assert.deepEqual(await pick(page("/blog/deleted")), { cache: "HIT", body: "/blog/deleted: render #2" });
  });

  test("a purge for preview leaves the production CDN alone; time moves only when told", async () => {
    assert.equal((await page("/blog/kept")).cache, "MISS");
    await sdk.edgeCache.invalidateByTags({ projectIdOrName: "my-app", requestBody: { tags: ["blog"], target: "preview" } });
    assert.deepEqual(await pick(page("/blog/kept")), { cache: "HIT", body: "/blog/kept: render #1" });

    // Past s-maxage=60, within stale-while-revalidate=300: STALE, by the admin clock.
    const moved = await admin("POST", "clock", { advance: "61s" }, api);
    assert.equal(moved.status, 200);
    const stale = await page("/blog/kept");
    assert.deepEqual({ cache: stale.cache, age: stale.headers.get("age") }, { cache: "STALE", age: "61" });
  });
});

// pick keeps what the tests compare of a page: x-vercel-cache and the body.
async function pick(pagePromise) {
  const { cache, body } = await pagePromise;
  return { cache, body };
}
