// Records the HTTP requests the official @vercel/sdk sends for each case below, into
// sdk-requests.json. The Go test TestCommandSendsWhatTheSDKSends runs the command on the same
// inputs and compares. Rerun with `make sdk-capture` (needs npm; not part of CI).
import http from "node:http";
import { writeFileSync } from "node:fs";
import { Vercel } from "@vercel/sdk";

const cases = [
  {
    name: "array form, no options",
    cli: ["--project", "demo", "--tag", "blog", "--tag", "products"],
    sdk: { projectIdOrName: "demo", requestBody: { tags: ["blog", "products"] } },
  },
  {
    name: "team id, production, explicit deadline 0",
    cli: ["--project", "demo", "--team-id", "team_abc", "--tag", "blog", "--target", "production", "--revalidation-deadline-seconds", "0"],
    sdk: { projectIdOrName: "demo", teamId: "team_abc", requestBody: { tags: ["blog"], target: "production", revalidationDeadlineSeconds: 0 } },
  },
  {
    name: "slug, preview, deadline 60, comma-separated flag",
    cli: ["--project", "my-app", "--slug", "my-team", "--tag", "a,b", "--target", "preview", "--revalidation-deadline-seconds", "60"],
    sdk: { projectIdOrName: "my-app", slug: "my-team", requestBody: { tags: ["a", "b"], target: "preview", revalidationDeadlineSeconds: 60 } },
  },
];

const seen = [];
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    seen.push({
      method: req.method,
      path: req.url.split("?")[0],
      query: Object.fromEntries(new URL(req.url, "http://x").searchParams),
      authorization: req.headers["authorization"],
      contentType: req.headers["content-type"],
      body: JSON.parse(body),
    });
    res.writeHead(200).end();
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const vercel = new Vercel({ bearerToken: "sdk-token", serverURL: `http://127.0.0.1:${server.address().port}` });
const out = [];
for (const c of cases) {
  seen.length = 0;
  await vercel.edgeCache.dangerouslyDeleteByTags(c.sdk);
  out.push({ name: c.name, cli: c.cli, token: "sdk-token", request: seen[0] });
}
server.close();
writeFileSync(new URL("./sdk-requests.json", import.meta.url), JSON.stringify({ sdk: "@vercel/sdk 1.28.35", cases: out }, null, 2) + "\n");
console.log(`recorded ${out.length} requests`);
