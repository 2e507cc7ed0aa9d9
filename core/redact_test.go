package core_test

import (
	"strings"
	"testing"

	"userimages/core"
)

func TestRedactTokens(t *testing.T) {
	const token = "01JEXZ8Q3M7T9V2W4X6Y8Z0A1B"
	for _, tc := range []struct{ in, want string }{
		{"claim " + token + ": disk full", "claim 01JEXZ8Q3M…: disk full"},
		{"put staging/" + token + ": timeout", "put staging/01JEXZ8Q3M…: timeout"},
		{token, "01JEXZ8Q3M…"},
		{`filename="` + token + `.jpeg", and ` + token, `filename="01JEXZ8Q3M….jpeg", and 01JEXZ8Q3M…`},
		{"no token here", "no token here"},
		{"", ""},
		{"x" + token, "x" + token},                                   // part of a longer word
		{token + "X", token + "X"},                                   // part of a longer word
		{strings.ToLower(token), strings.ToLower(token)},             // not canonical: no token
		{"01JEXZ8Q3M7T9V2W4X6Y8Z0A1I", "01JEXZ8Q3M7T9V2W4X6Y8Z0A1I"}, // I is not Crockford base32
		{"image 0123456789abcdefABCDEF", "image 0123456789abcdefABCDEF"},
	} {
		if got := core.RedactTokens(tc.in); got != tc.want {
			t.Errorf("RedactTokens(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}
