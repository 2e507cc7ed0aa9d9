package httpapi

import (
	"encoding/json"
	"errors"
	"testing"

	"userimages/core"

	"github.com/userimages/userimages/client/api"
)

// FuzzDecode feeds arbitrary bodies to the request decoding of every
// route that takes one: it never panics, and every failure is a coded 4xx
// error, pointing at a property unless the body is not a JSON object.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"content_type":"image/jpeg","file_size":169846}`,
		`{"token":"01GC9JEN2X052BAKW905PH9C36","brand_id":"10016"}`,
		`{"token":"x","brand_id":10016}`,
		`{"reason":"spam","detail":"x"}`,
		`{"file_size":1e400}`, `{"file_size":-0}`, `{"brand_id":18446744073709551616}`,
		``, `null`, `[]`, `{"a":`, "\xff\xfe",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, req := range []json.Unmarshaler{&api.CreateUploadRequest{}, &api.ClaimRequest{}, &api.ReportRequest{}} {
			if err := decodeBody([]byte(body), req); err != nil {
				checkCoded(t, err)
			}
		}
	})
}

func checkCoded(t *testing.T, err error) {
	t.Helper()
	var e *core.Error
	if !errors.As(err, &e) {
		t.Fatalf("got uncoded error %v", err)
	}
	if st := StatusOf(e.Code); st < 400 || st > 499 {
		t.Fatalf("code %s has status %d, want a 4xx", e.Code, st)
	}
	if (e.Field == "") != (e.Code == api.CodeInvalidJSON) {
		t.Fatalf("code %s about %q: want a field for every code but InvalidJSON", e.Code, e.Field)
	}
}
