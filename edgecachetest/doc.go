// Package edgecachetest is a fake of Vercel's Edge Cache endpoint
// POST /v1/edge-cache/dangerously-delete-by-tags, for tests that must not reach Vercel, in
// the style of net/http/httptest.
//
// [NewServer] starts the fake on 127.0.0.1 and [Server.NewClient] returns an
// *edgecache.Client pointed at it; [NewHandler] gives the same fake as an http.Handler to
// mount in a server of your own. The fake records every request it accepts ([Handler.Requests])
// and can be told to fail the next requests ([Handler.FailNext]) with a status, a Retry-After
// header, a delay or a dropped connection.
//
// # What it checks
//
// Every request is validated against the same vendored OpenAPI document the client is
// generated from ([edgecache.OpenAPISpec]), by kin-openapi through
// github.com/oapi-codegen/nethttp-middleware in front of the generated server
// (api.HandlerWithOptions). A request is answered by the first of these verdicts that
// applies, each with Vercel's error envelope {"error":{"code":…,"message":…}}:
//
//  1. A fault queued with FailNext, before anything else is looked at, so that a fault test
//     does not depend on what the request carries.
//  2. Another path, or another method on the endpoint's path: 404 not_found. The spec
//     declares no 405 for the operation, so none is answered.
//  3. No bearer token (Authorization: Bearer …): 401 unauthorized. A token that
//     [WithTokens] does not list: 403 forbidden.
//  4. Any breach of the spec: 400 bad_request whose message names the field and the rule,
//     such as "tags: must hold at most 16 items (got 17)" or
//     `target: must be one of "production", "preview" (got "staging")`. Malformed JSON, a
//     Content-Type other than application/json, an unknown property, a missing
//     projectIdOrName and a wrong JSON type are breaches too.
//  5. Two rules the real API applies beyond the spec's letter, also 400 bad_request: the
//     body must be present (the spec does not mark it required, but its schema requires
//     tags), and projectIdOrName must not be empty.
//  6. A project that [WithProjects] does not list: 404 not_found. A teamId or slug that
//     [WithTeams] does not list: 403 forbidden.
//  7. Otherwise the request is recorded and answered 200 with an empty body.
//
// Every answer carries an x-vercel-id header ("fake1::<n>"), which the client reports as
// the request id. Apart from injected faults, every status the fake answers is one the spec
// declares for the operation (200, 400, 401, 403, 404).
//
// # What it does not emulate
//
// It keeps no cache: deleting a tag has no effect the fake could show, and an unknown tag is
// accepted, as by Vercel. It applies no rate limit unless told to ([WithRateLimit]), and
// knows nothing of real projects, teams or tokens beyond what the options say. Tags are
// recorded the way Vercel reads them, split on commas, in both forms, and not trimmed.
package edgecachetest
