package core

import "strings"

// TokenTimeLen is how many of a token's first characters are its time
// (a ULID's 48-bit millisecond timestamp); the other 16 are its 80 random
// bits, the secret that claims the upload.
const TokenTimeLen = 10

// RedactTokens returns s with every upload token in it (a canonical ULID
// standing as a word of its own, as in "claim 01J…: …" or
// "staging/01J…") cut to its time and "…", for logs: whoever reads them
// could otherwise claim the uploads.
func RedactTokens(s string) string {
	var b strings.Builder
	copied := 0 // s[:copied] is in b
	for i := 0; i < len(s); {
		if !wordByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && wordByte(s[j]) {
			j++
		}
		if j-i == 26 && ValidToken(s[i:j]) {
			b.WriteString(s[copied : i+TokenTimeLen])
			b.WriteString("…")
			copied = j
		}
		i = j
	}
	if copied == 0 {
		return s
	}
	b.WriteString(s[copied:])
	return b.String()
}

// wordByte reports whether c is an ASCII letter, digit or underscore.
func wordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
}
