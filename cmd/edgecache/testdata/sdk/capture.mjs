// Records the HTTP requests the official @vercel/sdk sends for each case below, into
// sdk-requests.json: several cases for each of the four Edge Cache operations. Two Go tests
// replay them: TestLibrarySendsWhatTheSDKSends calls the edgecache client with the same input,
// and TestCommandSendsWhatTheSDKSends runs the command line in `cli`; both compare the method,
// path, query, body and the Authorization and Content-Type headers. A case whose `cli` is null
// uses a form the command never sends (the string form of tags: the command splits --tag on
// commas and sends the array form, which Vercel reads the same way).
// Rerun with `make sdk-capture` (needs npm; not part of CI).
import http from "node:http";
import { writeFileSync } from "node:fs";
import { Vercel } from "@vercel/sdk";

const cases = [
  // invalidateByTags
  {
    name: "invalidate tags: array form, no options",
    operation: "invalidateByTags",
    input: { projectIdOrName: "demo", requestBody: { tags: ["blog", "products"] } },
    cli: ["invalidate", "--project", "demo", "--tag", "blog", "--tag", "products"],
  },
  {
    name: "invalidate tags: team id, production",
    operation: "invalidateByTags",
    input: { projectIdOrName: "prj_123", teamId: "team_abc", requestBody: { tags: ["blog"], target: "production" } },
    cli: ["invalidate", "--project", "prj_123", "--team-id", "team_abc", "--tag", "blog", "--target", "production"],
  },
  {
    name: "invalidate tags: slug, preview, comma-separated flag",
    operation: "invalidateByTags",
    input: { projectIdOrName: "my-app", slug: "my-team", requestBody: { tags: ["a", "b"], target: "preview" } },
    cli: ["invalidate", "--project", "my-app", "--scope", "my-team", "--tag", "a,b", "--target", "preview"],
  },
  {
    name: "invalidate tags: string form",
    operation: "invalidateByTags",
    input: { projectIdOrName: "demo", requestBody: { tags: "blog,products" } },
    cli: null,
  },
  // dangerouslyDeleteByTags
  {
    name: "delete tags: array form, no options",
    operation: "dangerouslyDeleteByTags",
    input: { projectIdOrName: "demo", requestBody: { tags: ["blog", "products"] } },
    cli: ["dangerously-delete", "--project", "demo", "--tag", "blog", "--tag", "products"],
  },
  {
    name: "delete tags: team id, production, explicit deadline 0",
    operation: "dangerouslyDeleteByTags",
    input: { projectIdOrName: "demo", teamId: "team_abc", requestBody: { tags: ["blog"], target: "production", revalidationDeadlineSeconds: 0 } },
    cli: ["dangerously-delete", "--project", "demo", "--team-id", "team_abc", "--tag", "blog", "--target", "production", "--revalidation-deadline-seconds", "0"],
  },
  {
    name: "delete tags: slug, preview, deadline 60, comma-separated flag",
    operation: "dangerouslyDeleteByTags",
    input: { projectIdOrName: "my-app", slug: "my-team", requestBody: { tags: ["a", "b"], target: "preview", revalidationDeadlineSeconds: 60 } },
    cli: ["dangerously-delete", "--project", "my-app", "--slug", "my-team", "--tag", "a,b", "--target", "preview", "--revalidation-deadline-seconds", "60"],
  },
  {
    name: "delete tags: string form, deadline of a year",
    operation: "dangerouslyDeleteByTags",
    input: { projectIdOrName: "demo", requestBody: { tags: "blog,products", revalidationDeadlineSeconds: 31536000 } },
    cli: null,
  },
  // invalidateBySrcImages
  {
    name: "invalidate images: one image, no options",
    operation: "invalidateBySrcImages",
    input: { projectIdOrName: "demo", requestBody: { srcImages: ["/images/hero.png"] } },
    cli: ["invalidate", "--project", "demo", "--srcimg", "/images/hero.png"],
  },
  {
    name: "invalidate images: team id, a comma inside an image",
    operation: "invalidateBySrcImages",
    input: { projectIdOrName: "demo", teamId: "team_abc", requestBody: { srcImages: ["/img/a,b.png", "https://cdn.example.com/c.jpg?w=64"] } },
    cli: ["invalidate", "--project", "demo", "--team-id", "team_abc", "--srcimg", "/img/a,b.png", "--srcimg", "https://cdn.example.com/c.jpg?w=64"],
  },
  {
    name: "invalidate images: slug",
    operation: "invalidateBySrcImages",
    input: { projectIdOrName: "my-app", slug: "my-team", requestBody: { srcImages: ["/images/logo.svg"] } },
    cli: ["invalidate", "--project", "my-app", "--scope", "my-team", "--srcimg", "/images/logo.svg"],
  },
  // dangerouslyDeleteBySrcImages
  {
    name: "delete images: one image, no options",
    operation: "dangerouslyDeleteBySrcImages",
    input: { projectIdOrName: "demo", requestBody: { srcImages: ["/images/hero.png"] } },
    cli: ["dangerously-delete", "--project", "demo", "--srcimg", "/images/hero.png"],
  },
  {
    name: "delete images: team id, explicit deadline 0",
    operation: "dangerouslyDeleteBySrcImages",
    input: { projectIdOrName: "demo", teamId: "team_abc", requestBody: { srcImages: ["/img/a,b.png"], revalidationDeadlineSeconds: 0 } },
    cli: ["dangerously-delete", "--project", "demo", "--team-id", "team_abc", "--srcimg", "/img/a,b.png", "--revalidation-deadline-seconds", "0"],
  },
  {
    name: "delete images: slug, deadline 60, two images",
    operation: "dangerouslyDeleteBySrcImages",
    input: { projectIdOrName: "my-app", slug: "my-team", requestBody: { srcImages: ["/a.png", "/b.png"], revalidationDeadlineSeconds: 60 } },
    cli: ["dangerously-delete", "--project", "my-app", "--slug", "my-team", "--srcimg", "/a.png", "--srcimg", "/b.png", "--revalidation-deadline-seconds", "60"],
  },
];

const seen = [];
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const query = {};
    for (const [k, v] of new URL(req.url, "http://x").searchParams) (query[k] ??= []).push(v);
    seen.push({
      method: req.method,
      path: req.url.split("?")[0],
      query,
      authorization: req.headers["authorization"],
      contentType: req.headers["content-type"],
      body: JSON.parse(body),
      rawBody: body,
    });
    res.writeHead(200).end();
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const vercel = new Vercel({ bearerToken: "sdk-token", serverURL: `http://127.0.0.1:${server.address().port}` });
const out = [];
for (const c of cases) {
  seen.length = 0;
  await vercel.edgeCache[c.operation](c.input);
  if (seen.length !== 1) throw new Error(`${c.name}: the SDK sent ${seen.length} requests`);
  out.push({ ...c, token: "sdk-token", request: seen[0] });
}
server.close();
writeFileSync(new URL("./sdk-requests.json", import.meta.url), JSON.stringify({ sdk: "@vercel/sdk 1.28.35", cases: out }, null, 2) + "\n");
console.log(`recorded ${out.length} requests`);
