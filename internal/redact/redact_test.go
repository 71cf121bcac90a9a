package redact_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/vercelkit/edgecache/internal/redact"
)

// TestRedactionRule: the rule documented on New, case by case.
func TestRedactionRule(t *testing.T) {
	t.Parallel()
	const long = "vcp_0123456789abcdef" // 20 characters
	cases := []struct{ token, text, want string }{
		{long, "Bearer " + long, "Bearer [redacted]"},
		{long, "x" + long + "y", "x[redacted]y"}, // long enough to be the token wherever it stands
		{long, "a%3D" + long + "%26", "a%3D[redacted]%26"},
		{long, long + long, "[redacted][redacted]"},
		{long, long[:15], long[:15]},
		{"e", "forbidden: Not authorized", "forbidden: Not authorized"},
		{"e", "Bearer e", "Bearer [redacted]"},
		{"e", `{"token":"e"}`, `{"token":"[redacted]"}`},
		{"e", "e", redact.Placeholder},
		{"e", "e-1 rate_e e2 é e\u0301 ée", "e-1 rate_e e2 é e\u0301 ée"}, // next to '-', '_', a digit, a letter, a mark
		{"e", "token=e&x=e;", "token=[redacted]&x=[redacted];"},
		{"ab", "abab ab", "abab [redacted]"},
		{"a.", "a.a. ", "a.[redacted] "}, // the second occurrence overlaps the first and stands alone
		{"tok", "", ""},
		{"e", "日本 e 日本語e", "日本 [redacted] 日本語e"},
		{"e", "\xffe e\xfe", "\xff[redacted] [redacted]\xfe"}, // an invalid byte is no word character
	}
	for _, tc := range cases {
		if got := redact.Token(tc.text, tc.token); got != tc.want {
			t.Errorf("token %q in %q: got %q, want %q", tc.token, tc.text, got, tc.want)
		}
	}
}

// FuzzRedact: redaction changes nothing but occurrences of the token, each replaced whole; a
// long token never survives; a short one survives only next to a word character.
func FuzzRedact(f *testing.F) {
	for _, seed := range []struct{ text, token string }{
		{"forbidden: Not authorized", "e"},
		{"Bearer vcp_0123456789abcdef.", "vcp_0123456789abcdef"},
		{"xvcp_0123456789abcdefvcp_0123456789abcdef", "vcp_0123456789abcdef"},
		{"a-a-a- a-", "a-"},
		{"aaaa aa aaa", "aa"},
		{"é e\u0301 e", "e"},
		{"\xff\xfe e \xff\xcc\x81e", "e"},
	} {
		f.Add(seed.text, seed.token)
	}
	inWord := func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '-' || r == '_'
	}
	f.Fuzz(func(t *testing.T, text, token string) {
		if len(text) > 256 || len(token) > 32 || token == "" || strings.Contains(text+token, "[") ||
			strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return // New refuses such a token; a '[' could be mistaken for the mark
		}
		got := redact.Token(text, token)
		if back := strings.ReplaceAll(got, redact.Placeholder, token); back != text {
			t.Fatalf("Redact(%q, %q) = %q, which changed more than the token", text, token, got)
		}
		for i, size := 0, 0; i < len(got); i += size { // at rune boundaries, where Redact looks
			if _, size = utf8.DecodeRuneInString(got[i:]); !strings.HasPrefix(got[i:], token) {
				continue
			}
			before, _ := utf8.DecodeLastRuneInString(got[:i])
			after, _ := utf8.DecodeRuneInString(got[i+len(token):])
			if utf8.RuneCountInString(token) >= 16 || !inWord(before) && !inWord(after) {
				t.Fatalf("Redact(%q, %q) = %q, which still holds the token at byte %d", text, token, got, i)
			}
		}
	})
}
