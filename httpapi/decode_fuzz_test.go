package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"userimages/core"
)

// FuzzDecode feeds arbitrary bodies to the request decoding of both API
// steps: it never panics, and every failure is a coded 4xx error.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"content_type":"image/jpeg","file_size":169846}`,
		`{"token":"01GC9JEN2X052BAKW905PH9C36","brand_id":"10016"}`,
		`{"token":"x","brand_id":10016}`,
		`{"file_size":1e400}`, `{"file_size":-0}`, `{"brand_id":18446744073709551616}`,
		``, `null`, `[]`, `{"a":`, "\xff\xfe",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		obj, err := readObject(httptest.NewRecorder(), req)
		if err != nil {
			checkCoded(t, err)
			return
		}
		for _, decode := range []func() error{
			func() error { _, err := stringProp(obj, "content_type"); return err },
			func() error { _, err := fileSizeProp(obj); return err },
			func() error { _, err := stringProp(obj, "token"); return err },
			func() error { _, err := brandProp(obj); return err },
		} {
			if err := decode(); err != nil {
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
}
