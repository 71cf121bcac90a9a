package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/vercelkit/edgecache/edgecachetest"
)

// The tests of this file follow a newcomer's first hour with the command (issue 18): each
// mistake they made gets a message that says what to type instead, and nothing is sent.

// usageError runs a purge's args against a recorder and wants exit 2, one line on stderr
// holding every want, no request, and no token.
func usageError(t *testing.T, h harness, args []string, wants ...string) outcome {
	t.Helper()
	rec := newRecorder(t, 0)
	out := h.run(t, append(args, "--api-url", rec.URL, "--token", "secret-token-1234")...)
	checkUsageError(t, out, wants...)
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests sent; a usage error must send nothing", n)
	}
	return out
}

// checkUsageError wants exit 2 and one line on stderr holding every want, without the token.
func checkUsageError(t *testing.T, out outcome, wants ...string) {
	t.Helper()
	if out.code != exitUsage {
		t.Errorf("exit %d, want %d; stderr %q", out.code, exitUsage, out.stderr)
	}
	for _, want := range wants {
		if !strings.Contains(out.stderr, want) {
			t.Errorf("stderr %q lacks %q", out.stderr, want)
		}
	}
	if lines := strings.Count(strings.TrimSpace(out.stderr), "\n"); lines != 0 {
		t.Errorf("the error should be one line, got %d:\n%s", lines+1, out.stderr)
	}
	if strings.Contains(out.stderr+out.stdout, "secret-token-1234") {
		t.Errorf("the output repeats the token: %q", out.stderr)
	}
}

// A bare word is taken for an item given without its flag.
func TestPositionalArgumentSuggestsItsFlag(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"invalidate", "blog"}, `unexpected argument "blog": tags and source images are given by flag; did you mean --tag blog?`},
		{[]string{"dangerously-delete", "/images/hero.png"}, "did you mean --srcimg /images/hero.png?"},
		{[]string{"invalidate", "https://example.com/a.png"}, "did you mean --srcimg https://example.com/a.png?"},
		{[]string{"invalidate", "blog", "news"}, "did you mean --tag blog --tag news?"},
		{[]string{"invalidate", "summer sale"}, "did you mean --tag 'summer sale'?"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			usageError(t, harness{}, append(tc.args, "--project", "demo", "--yes"), tc.want)
		})
	}
}

// `vercel cache invalidate` is `edgecache invalidate`: the Vercel CLI's word order gets told
// to drop "cache", without the rest of the line (it may hold the token).
func TestCacheWordSaysToDropIt(t *testing.T) {
	usageError(t, harness{}, []string{"cache", "invalidate", "--project", "demo", "--tag", "blog"},
		`drop "cache": edgecache invalidate takes the same flags as vercel cache invalidate`)
	usageError(t, harness{}, []string{"cache", "dangerously-delete", "--tag", "blog"}, `drop "cache": edgecache dangerously-delete`)
	usageError(t, harness{}, []string{"cache", "purge"}, `edgecache has no "cache" command`, "invalidate, dangerously-delete")
	if out := (harness{}).run(t, "--help"); strings.Contains(out.stdout, "\n  cache ") {
		t.Errorf("--help lists the cache hint as a command:\n%s", out.stdout)
	}
}

// The team is named once: the API would get both a teamId and a slug, and which wins is
// Vercel's to decide.
func TestTeamIDWithScopeIsAUsageError(t *testing.T) {
	usageError(t, harness{}, []string{"invalidate", "--project", "demo", "--tag", "a", "--team-id", "team_1", "--scope", "acme", "--yes"},
		"--team-id team_1 and --scope acme both name the team: give one")
	// Either alone is fine, and the environment's org id does not count as a second name.
	s := edgecachetest.NewServer()
	defer s.Close()
	out := harness{env: map[string]string{"VERCEL_PROJECT_ID": "prj_1", "VERCEL_ORG_ID": "team_env"}}.run(t,
		"invalidate", "--tag", "a", "--scope", "acme", "--api-url", s.URL, "--token", s.Token(), "--yes")
	if out.code != exitOK {
		t.Fatalf("--scope with VERCEL_ORG_ID: exit %d, stderr %q", out.code, out.stderr)
	}
	if got := s.Requests(); len(got) != 1 || got[0].Slug != "acme" || got[0].TeamID != "" {
		t.Errorf("sent %+v, want the slug alone", got)
	}
}

// --dry-run --json shows URLs as a person types them: & is &, not \u0026.
func TestDryRunJSONLeavesURLsUnescaped(t *testing.T) {
	out := harness{}.run(t, "invalidate", "--project", "demo", "--tag", "a", "--team-id", "team_1", "--dry-run", "--json")
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	want := `"url": "https://api.vercel.com/v1/edge-cache/invalidate-by-tags?projectIdOrName=demo&teamId=team_1"`
	if !strings.Contains(out.stdout, want) || strings.Contains(out.stdout, `\u0026`) {
		t.Errorf("stdout %s\nwant %s, with no \\u0026", out.stdout, want)
	}
}

// An invalid item of a file is named by the file and its line, which a user can open, not
// by its index among the de-duplicated items.
func TestInvalidFileItemIsNamedByLine(t *testing.T) {
	// Line 8 is the bad one: after the duplicates and blank lines are dropped it is the 5th
	// distinct tag, tags[4] to the library.
	lines := []string{"a", "b", "a", "", "c", "  b  ", "d", "bad\x01tag", "e"}
	path := filepath.Join(t.TempDir(), "tags.txt")
	writeAt(t, path, strings.Join(lines, "\n"))
	out := usageError(t, harness{}, []string{"invalidate", "--project", "demo", "--tags-file", path, "--yes"},
		path+":8: tag must not contain control or invisible format characters (got \"bad\\x01tag\"); nothing was sent")
	if strings.Contains(out.stderr, "tags[") {
		t.Errorf("stderr %q still names the de-duplicated index", out.stderr)
	}

	t.Run("standard input", func(t *testing.T) {
		usageError(t, harness{stdin: strings.NewReader("ok\n\xffbad\n")}, []string{"invalidate", "--project", "demo", "--tags-file", "-", "--yes"},
			"--tags-file standard input:2: tag must be valid UTF-8")
	})
	t.Run("source images", func(t *testing.T) {
		images := filepath.Join(t.TempDir(), "gone.txt")
		writeAt(t, images, "/a.png\n/b\u200b.png\n")
		usageError(t, harness{}, []string{"dangerously-delete", "--project", "demo", "--srcimgs-file", images, "--yes"},
			images+":2: source image must not contain control or invisible format characters")
	})
	t.Run("a flag's value keeps the library's message", func(t *testing.T) {
		usageError(t, harness{}, []string{"invalidate", "--project", "demo", "--tag", "bad\x01", "--tags-file", path, "--yes"},
			`tags[0] must not contain control or invisible format characters (got "bad\x01")`)
	})
}

func writeAt(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// serve listens on loopback unless told otherwise: the fake accepts any token, and its admin
// API rewrites its answers.
func TestServeRefusesAnAddressOtherMachinesCanReach(t *testing.T) {
	// A context that has ended already: were the check gone, listening would fail at once
	// (and fail the test) instead of opening a port on every interface.
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "example.com:0"} {
		t.Run(addr, func(t *testing.T) {
			out := harness{ctx: ended}.run(t, "serve", "--addr", addr)
			checkUsageError(t, out, "--addr "+addr+": other machines could reach", "--allow-remote")
			if strings.Contains(out.stderr, "serving") {
				t.Errorf("it served: %q", out.stderr)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8787": true, "127.0.0.2:0": true, "[::1]:0": true, "localhost:8787": true, "LOCALHOST:1": true,
		"0.0.0.0:8787": false, ":8787": false, "[::]:0": false, "192.168.1.5:0": false, "example.com:80": false,
		"not an address": true, // left for net.Listen to refuse, with its own message
	} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}

// The README's synopsis lists every flag of every command, so that a reader never has to
// find one in --help that the README left out.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## The command\n")
	_, synopsis, _ := strings.Cut(section, "```\n")
	synopsis, _, _ = strings.Cut(synopsis, "\n```")
	root := newRootCommand(env{})
	for _, cmd := range root.Commands() {
		if cmd.Hidden || cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && !f.Hidden && !strings.Contains(synopsis, "--"+f.Name+" ") && !strings.Contains(synopsis, "--"+f.Name+"]") {
				t.Errorf("the README's synopsis lacks %s --%s", cmd.Name(), f.Name)
			}
		})
	}
	if !strings.Contains(synopsis, "edgecache --version") {
		t.Error("the README's synopsis lacks edgecache --version")
	}
}
