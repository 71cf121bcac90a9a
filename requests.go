package edgecache

// Target is the environment a tag purge applies to. The zero value omits the field, which
// applies the purge to all environments. The source-image operations take no target.
type Target string

// The spec's target enum.
const (
	TargetProduction Target = "production"
	TargetPreview    Target = "preview"
)

// Request is a request of any of the four operations: [InvalidateByTagsRequest],
// [DangerouslyDeleteByTagsRequest], [InvalidateBySrcImagesRequest] or [DangerouslyDeleteBySrcImagesRequest].
// [Client.Bulk], [Client.Prepare] and [Split] take any of them. Only this package
// implements it.
type Request interface {
	// Validate checks the request against its operation's schema and the client's stricter
	// rules; see [ValidationError].
	Validate() error
	operation() operation
}

// InvalidateByTagsRequest marks tags as stale: the next request for each page under them is
// served stale content while the page is revalidated in the background. This is the safe way
// to purge and the one to prefer.
type InvalidateByTagsRequest struct {
	ProjectIDOrName string // the project's id ("prj_…") or name; required
	// Tags are the tags to purge, as a [TagList] or a [TagString]; required. One request
	// carries 1 to 16; [Client.Bulk] takes any number and splits them.
	Tags   Tags
	Target Target // one environment; empty means all
	// TeamID and TeamSlug, when set, override the client's [WithTeamID] and [WithTeamSlug].
	TeamID, TeamSlug string
}

// DangerouslyDeleteByTagsRequest marks tags as deleted: the next request for each page under
// them is revalidated in the foreground, at the origin, which for many pages is a cache
// stampede. Prefer [InvalidateByTagsRequest] unless the origin content is gone.
type DangerouslyDeleteByTagsRequest struct {
	ProjectIDOrName string // the project's id ("prj_…") or name; required
	// Tags are as in [InvalidateByTagsRequest]: 1 to 16 in one request, any number for
	// [Client.Bulk].
	Tags   Tags
	Target Target // one environment; empty means all
	// RevalidationDeadlineSeconds, when set, keeps serving stale content (revalidating in the
	// background) for that many seconds, at most a year, before the entries are deleted. Nil
	// omits the field (Vercel's default, 0: deleted at once); Ptr(0) sends 0. See [Ptr].
	RevalidationDeadlineSeconds *int
	// TeamID and TeamSlug, when set, override the client's [WithTeamID] and [WithTeamSlug].
	TeamID, TeamSlug string
}

// InvalidateBySrcImagesRequest marks source images as stale: their transformed images are
// revalidated in the background on their next request.
type InvalidateBySrcImagesRequest struct {
	ProjectIDOrName string // the project's id ("prj_…") or name; required
	// SrcImages are the source images, such as "/images/hero.png". Required; one request
	// carries 1 to 8, and [Client.Bulk] takes any number and splits them. A comma is part of
	// an image's name, never a separator.
	SrcImages []string
	// TeamID and TeamSlug, when set, override the client's [WithTeamID] and [WithTeamSlug].
	TeamID, TeamSlug string
}

// DangerouslyDeleteBySrcImagesRequest marks source images as deleted: every cache entry
// derived from them is revalidated in the foreground on its next request. Prefer
// [InvalidateBySrcImagesRequest] unless the images are gone.
type DangerouslyDeleteBySrcImagesRequest struct {
	ProjectIDOrName string // the project's id ("prj_…") or name; required
	// SrcImages are as in [InvalidateBySrcImagesRequest]: 1 to 8 in one request, any number
	// for [Client.Bulk]; never split on commas.
	SrcImages []string
	// RevalidationDeadlineSeconds is as in [DangerouslyDeleteByTagsRequest].
	RevalidationDeadlineSeconds *int
	// TeamID and TeamSlug, when set, override the client's [WithTeamID] and [WithTeamSlug].
	TeamID, TeamSlug string
}

// Result is a 2xx answer. It proves Vercel accepted the request, not that any cache entry
// carried the tags or images: an unknown tag is also accepted.
type Result struct {
	StatusCode int    // the HTTP status (200)
	RequestID  string // the x-vercel-id header, when present
	Attempts   int    // how many requests were made, retries included
	// RateLimit is the rate limit as the answer reported it (the X-RateLimit-Limit, -Remaining
	// and -Reset headers), so that a caller can pace itself; nil when the answer carried none,
	// as Vercel documents none.
	RateLimit *RateLimit
}

// Ptr returns a pointer to v, for optional fields such as RevalidationDeadlineSeconds.
func Ptr[T any](v T) *T { return &v }
