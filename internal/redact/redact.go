// Package redact keeps a bearer token out of text that a server or a client may have echoed:
// error messages, request ids, URLs, recorded requests. The client (package edgecache) and the
// fake (package edgecachetest) share its one rule.
package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Placeholder stands in for the token.
const Placeholder = "[redacted]"

// minLenAnywhere is the length from which a token is replaced wherever it appears: a string
// that long does not occur in ordinary text by chance (Vercel's tokens have 24 characters).
const minLenAnywhere = 16

// Token returns s with token replaced by Placeholder: everywhere when the token has 16
// characters or more, otherwise only where it stands alone (not next to a letter, digit,
// mark, '-' or '_'), so that a short test token such as "e" never mangles a message or an
// error code, and the untouched words do not spell it out. Nothing but the token is changed.
// An empty token changes nothing.
func Token(s, token string) string {
	if token == "" || !strings.Contains(s, token) {
		return s
	}
	if utf8.RuneCountInString(token) >= minLenAnywhere {
		return strings.ReplaceAll(s, token, Placeholder)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[min(i+len(token), len(s)):])
		if strings.HasPrefix(s[i:], token) && !inWord(before) && !inWord(after) {
			b.WriteString(Placeholder)
			i += len(token) - 1
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// inWord reports the characters next to which a short token is taken for part of a word.
func inWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '-' || r == '_'
}
