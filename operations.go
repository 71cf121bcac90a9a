package edgecache

import (
	"cmp"
	"context"
	"net/http"

	"github.com/vercelkit/edgecache/api"
)

// InvalidateByTags marks the request's tags as stale: the next request for each page under
// them is served stale content while the page revalidates in the background. Prefer it to
// [Client.DangerouslyDeleteByTags]; it cannot cause a cache stampede.
//
// The request is validated first; a *ValidationError (matching ErrInvalidRequest) means
// nothing was sent. Rate limits, server faults and connection errors are retried per the
// client's [RetryPolicy]. A non-2xx answer is an *APIError; no answer is a *TransportError.
func (c *Client) InvalidateByTags(ctx context.Context, req InvalidateByTagsRequest) (*Result, error) {
	return c.do(ctx, req)
}

// DangerouslyDeleteByTags marks the request's tags as deleted, so that every cache entry
// carrying one of them is revalidated in the foreground, at the origin, on its next request.
// One tag can cover many paths: deleting it can cause a cache stampede on the origin. Use it
// when the origin content is gone; otherwise prefer [Client.InvalidateByTags], or set a
// revalidation deadline. Validation, retries and errors are as for InvalidateByTags.
func (c *Client) DangerouslyDeleteByTags(ctx context.Context, req DangerouslyDeleteByTagsRequest) (*Result, error) {
	return c.do(ctx, req)
}

// InvalidateBySrcImages marks source images as stale, so that their transformed images are
// revalidated in the background. Validation, retries and errors are as for InvalidateByTags.
func (c *Client) InvalidateBySrcImages(ctx context.Context, req InvalidateBySrcImagesRequest) (*Result, error) {
	return c.do(ctx, req)
}

// DangerouslyDeleteBySrcImages marks source images as deleted, so that every cache entry
// derived from them is revalidated in the foreground: the same stampede risk as
// DangerouslyDeleteByTags. Prefer [Client.InvalidateBySrcImages].
func (c *Client) DangerouslyDeleteBySrcImages(ctx context.Context, req DangerouslyDeleteBySrcImagesRequest) (*Result, error) {
	return c.do(ctx, req)
}

// operation is what the shared core needs to know of one request: its fields, how to send it
// with the generated client, and, for bulk purges, the same request for other items. A tag
// operation has tags; a source-image operation has images instead and no target.
type operation struct {
	name             string // the spec's operationId
	project          string
	teamID, teamSlug string
	tags             *Tags
	images           []string
	target           Target
	deadline         *int
	send             func(ctx context.Context, c *Client, raw api.ClientInterface) (*http.Response, error)
	withItems        func([]string) Request
}

func (r InvalidateByTagsRequest) operation() operation {
	return operation{name: "invalidateByTags", project: r.ProjectIDOrName, teamID: r.TeamID, teamSlug: r.TeamSlug, tags: &r.Tags, target: r.Target,
		send: func(ctx context.Context, c *Client, raw api.ClientInterface) (*http.Response, error) {
			params := api.InvalidateByTagsParams(c.params(r.ProjectIDOrName, r.TeamID, r.TeamSlug))
			return raw.InvalidateByTags(ctx, &params, api.InvalidateByTagsJSONRequestBody{
				Tags:   api.InvalidateByTagsJSONBody_Tags(r.Tags.union()),
				Target: optional[api.InvalidateByTagsJSONBodyTarget](r.Target),
			})
		},
		withItems: func(tags []string) Request { r.Tags = TagList(tags...); return r },
	}
}

func (r DangerouslyDeleteByTagsRequest) operation() operation {
	return operation{name: "dangerouslyDeleteByTags", project: r.ProjectIDOrName, teamID: r.TeamID, teamSlug: r.TeamSlug, tags: &r.Tags, target: r.Target, deadline: r.RevalidationDeadlineSeconds,
		send: func(ctx context.Context, c *Client, raw api.ClientInterface) (*http.Response, error) {
			params := api.DangerouslyDeleteByTagsParams(c.params(r.ProjectIDOrName, r.TeamID, r.TeamSlug))
			return raw.DangerouslyDeleteByTags(ctx, &params, api.DangerouslyDeleteByTagsJSONRequestBody{
				Tags:                        r.Tags.union(),
				Target:                      optional[api.DangerouslyDeleteByTagsJSONBodyTarget](r.Target),
				RevalidationDeadlineSeconds: r.RevalidationDeadlineSeconds,
			})
		},
		withItems: func(tags []string) Request { r.Tags = TagList(tags...); return r },
	}
}

func (r InvalidateBySrcImagesRequest) operation() operation {
	return operation{name: "invalidateBySrcImages", project: r.ProjectIDOrName, teamID: r.TeamID, teamSlug: r.TeamSlug, images: r.SrcImages,
		send: func(ctx context.Context, c *Client, raw api.ClientInterface) (*http.Response, error) {
			params := api.InvalidateBySrcImagesParams(c.params(r.ProjectIDOrName, r.TeamID, r.TeamSlug))
			return raw.InvalidateBySrcImages(ctx, &params, api.InvalidateBySrcImagesJSONRequestBody{SrcImages: r.SrcImages})
		},
		withItems: func(images []string) Request { r.SrcImages = images; return r },
	}
}

func (r DangerouslyDeleteBySrcImagesRequest) operation() operation {
	return operation{name: "dangerouslyDeleteBySrcImages", project: r.ProjectIDOrName, teamID: r.TeamID, teamSlug: r.TeamSlug, images: r.SrcImages, deadline: r.RevalidationDeadlineSeconds,
		send: func(ctx context.Context, c *Client, raw api.ClientInterface) (*http.Response, error) {
			params := api.DangerouslyDeleteBySrcImagesParams(c.params(r.ProjectIDOrName, r.TeamID, r.TeamSlug))
			return raw.DangerouslyDeleteBySrcImages(ctx, &params, api.DangerouslyDeleteBySrcImagesJSONRequestBody{
				SrcImages:                   r.SrcImages,
				RevalidationDeadlineSeconds: r.RevalidationDeadlineSeconds,
			})
		},
		withItems: func(images []string) Request { r.SrcImages = images; return r },
	}
}

// items are the tags or source images the request carries, as Vercel reads them.
func (op operation) items() []string {
	if op.tags != nil {
		return op.tags.Values()
	}
	return op.images
}

// params is the query every operation shares. The four generated Params types are the same
// struct, so each operation converts this one to its own.
func (c *Client) params(project, teamID, slug string) api.DangerouslyDeleteByTagsParams {
	return api.DangerouslyDeleteByTagsParams{
		ProjectIdOrName: project,
		TeamId:          optional[string](cmp.Or(teamID, c.teamID)),
		Slug:            optional[string](cmp.Or(slug, c.teamSlug)),
	}
}

// optional is the generated code's form of an optional string: nil when empty.
func optional[T, S ~string](s S) *T {
	if s == "" {
		return nil
	}
	v := T(s)
	return &v
}
