package api

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestRoutePath(t *testing.T) {
	for _, tc := range []struct {
		route    Route
		segments []string
		method   string
		want     string
	}{
		{RouteCreateUpload, nil, "POST", "/api/v2/guide/user_images/uploads"},
		{RouteImage, nil, "GET", "/hc/user_images/{file}"},
		{RouteImage, []string{"AAAA.jpeg"}, "GET", "/hc/user_images/AAAA.jpeg"},
		{RouteReport, []string{"a/b c"}, "POST", "/api/v2/guide/user_images/a%2Fb%20c/reports"},
		{RouteDeleteImage, []string{"AAAA"}, "DELETE", "/api/v2/guide/user_images/AAAA"},
	} {
		if got := tc.route.Path(tc.segments...); got != tc.want {
			t.Errorf("%s.Path(%q): got %q, want %q", tc.route, tc.segments, got, tc.want)
		}
		if got := tc.route.Method(); got != tc.method {
			t.Errorf("%s.Method(): got %q, want %q", tc.route, got, tc.method)
		}
	}
	if got, want := PropFileSize.Pointer(), "/file_size"; got != want {
		t.Errorf("PropFileSize.Pointer(): got %q, want %q", got, want)
	}
}

// TestRequestsRoundTrip: what a client marshals, the server's decoding
// reads back unchanged.
func TestRequestsRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, out any }{
		{&CreateUploadRequest{ContentType: JPEG.MIME, FileSize: 169846}, &CreateUploadRequest{}},
		{&ClaimRequest{Token: "01GC9JEN2X052BAKW905PH9C36", BrandID: "10016"}, &ClaimRequest{}},
		{&ReportRequest{Reason: ReportSpam, Detail: "watches"}, &ReportRequest{}},
		{&ReportRequest{Reason: ReportOther}, &ReportRequest{}},
	} {
		b, err := json.Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, tc.out); err != nil {
			t.Errorf("%s: got %v, want no error", b, err)
		}
		if gotJSON, _ := json.Marshal(tc.out); string(gotJSON) != string(b) {
			t.Errorf("%s: read back as %s", b, gotJSON)
		}
	}
}

// TestDecodeErrors: each refusal is a *DecodeError naming its property
// (none when the body is not an object); brand_id may be a number.
func TestDecodeErrors(t *testing.T) {
	var claim ClaimRequest
	if err := json.Unmarshal([]byte(`{"token":"x","brand_id":10016}`), &claim); err != nil || claim.BrandID != "10016" {
		t.Errorf("brand_id a number: got %+v, %v, want brand 10016", claim, err)
	}
	for _, tc := range []struct {
		body string
		into any
		code Code
		prop Property
	}{
		{`[]`, &CreateUploadRequest{}, CodeInvalidJSON, ""},
		{`null`, &ClaimRequest{}, CodeInvalidJSON, ""},
		{`{"content_type":"image/png"}`, &CreateUploadRequest{}, CodeInvalidProperty, PropFileSize},
		{`{"content_type":"image/png","file_size":1.5}`, &CreateUploadRequest{}, CodeInvalidFileSize, PropFileSize},
		{`{"content_type":"image/png","file_size":1e99}`, &CreateUploadRequest{}, CodeInvalidFileSize, PropFileSize},
		{`{"content_type":"image/png","file_size":99999999999999999999}`, &CreateUploadRequest{}, CodeFileTooLarge, PropFileSize},
		{`{"TOKEN":"x","brand_id":"1"}`, &ClaimRequest{}, CodeInvalidProperty, PropToken},
		{`{"token":"x","brand_id":-1}`, &ClaimRequest{}, CodeInvalidProperty, PropBrandID},
		{`{"reason":"spam","detail":5}`, &ReportRequest{}, CodeInvalidProperty, PropDetail},
	} {
		err := json.Unmarshal([]byte(tc.body), tc.into)
		var de *DecodeError
		if !errors.As(err, &de) || de.Code != tc.code || de.Property != tc.prop {
			t.Errorf("%s: got %#v, want a DecodeError of %s about %q", tc.body, err, tc.code, tc.prop)
		}
	}
}
