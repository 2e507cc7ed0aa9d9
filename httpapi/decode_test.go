package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestRequestErrorBodies pins the whole answer, byte for byte, to request
// bodies that are malformed or hold a bad property, on every route that
// takes a JSON body: which property a refusal points at and in what words
// are part of the API, whether the decoding or the service found the fault.
// In a body, {token} is a fresh upload's token with its bytes PUT, and
// {claimed} the token of a claimed image; reports go to a claimed image.
func TestRequestErrorBodies(t *testing.T) {
	e := newEnv(t)
	img := testJPEG(t, 16, 16)
	claimed, path := e.claimed("image/jpeg", img)
	id := strings.TrimSuffix(strings.TrimPrefix(path, "/hc/user_images/"), ".jpeg")
	reports := "/api/v2/guide/user_images/" + id + "/reports"
	const (
		invalidJSON = `{"errors":[{"code":"InvalidJSON","title":"Invalid JSON","detail":"the request body must be a JSON object","status":"400"}]}`
		ok          = "ok"
	)
	prop := func(pointer, detail string) string {
		return `{"errors":[{"code":"InvalidProperty","title":"Invalid property","detail":"` + detail + `","status":"422","source":{"pointer":"` + pointer + `"}}]}`
	}
	for _, tc := range []struct {
		path, body string
		want       string // the body answered, or ok for a 2xx
	}{
		{createPath, ``, prop("/content_type", "content_type is required and must be a string")},
		{createPath, " \n", prop("/content_type", "content_type is required and must be a string")},
		{createPath, `{}`, prop("/content_type", "content_type is required and must be a string")},
		{createPath, `{"content_type":`, invalidJSON},
		{createPath, `[]`, invalidJSON},
		{createPath, `null`, invalidJSON},
		{createPath, `"image/png"`, invalidJSON},
		{createPath, `{"content_type":"image/png","file_size":10} x`, invalidJSON},
		{createPath, `{"content_type":"image/png","file_size":10}{}`, invalidJSON},
		{createPath, "\xff\xfe", invalidJSON},
		{createPath, `{"content_type":1,"file_size":10}`, prop("/content_type", "content_type is required and must be a string")},
		{createPath, `{"Content_Type":"image/png","file_size":10}`, prop("/content_type", "content_type is required and must be a string")},
		{createPath, `{"content_type":"image/png","File_Size":10}`, prop("/file_size", "file_size is required and must be a number")},
		{createPath, `{"content_type":null,"file_size":10}`, `{"errors":[{"code":"UnsupportedContentType","title":"Unsupported content type","detail":"content_type \"\" is not accepted; use one of image/jpeg, image/png, image/gif, image/webp","status":"422","source":{"pointer":"/content_type"}}]}`},
		{createPath, `{"content_type":"text/html","file_size":10}`, `{"errors":[{"code":"UnsupportedContentType","title":"Unsupported content type","detail":"content_type \"text/html\" is not accepted; use one of image/jpeg, image/png, image/gif, image/webp","status":"422","source":{"pointer":"/content_type"}}]}`},
		{createPath, `{"content_type":"image/png"}`, prop("/file_size", "file_size is required and must be a number")},
		{createPath, `{"content_type":"image/png","file_size":"100"}`, prop("/file_size", "file_size is required and must be a number")},
		{createPath, `{"content_type":"image/png","file_size":true}`, prop("/file_size", "file_size is required and must be a number")},
		{createPath, `{"content_type":"image/png","file_size":[1]}`, prop("/file_size", "file_size is required and must be a number")},
		{createPath, `{"content_type":"image/png","file_size":null}`, `{"errors":[{"code":"InvalidFileSize","title":"Invalid file size","detail":"file_size must be a whole number of bytes","status":"422","source":{"pointer":"/file_size"}}]}`},
		{createPath, `{"content_type":"image/png","file_size":1.5}`, `{"errors":[{"code":"InvalidFileSize","title":"Invalid file size","detail":"file_size must be a whole number of bytes","status":"422","source":{"pointer":"/file_size"}}]}`},
		{createPath, `{"content_type":"image/png","file_size":1e3}`, `{"errors":[{"code":"InvalidFileSize","title":"Invalid file size","detail":"file_size must be a whole number of bytes","status":"422","source":{"pointer":"/file_size"}}]}`},
		{createPath, `{"content_type":"image/png","file_size":-99999999999999999999}`, `{"errors":[{"code":"InvalidFileSize","title":"Invalid file size","detail":"file_size must be a whole number of bytes","status":"422","source":{"pointer":"/file_size"}}]}`},
		{createPath, `{"content_type":"image/png","file_size":99999999999999999999}`, `{"errors":[{"code":"FileTooLarge","title":"File too large","detail":"file_size is far over the limit","status":"422","source":{"pointer":"/file_size"}}]}`},
		{createPath, `{"content_type":"image/png","file_size":0}`, `{"errors":[{"code":"InvalidFileSize","title":"Invalid file size","detail":"file_size must be a positive number of bytes","status":"422","source":{"pointer":"/file_size"}}]}`},
		{createPath, `{"content_type":"image/png","file_size":-0}`, `{"errors":[{"code":"InvalidFileSize","title":"Invalid file size","detail":"file_size must be a positive number of bytes","status":"422","source":{"pointer":"/file_size"}}]}`},
		{createPath, `{"content_type":"image/png","file_size":2000001}`, `{"errors":[{"code":"FileTooLarge","title":"File too large","detail":"file_size 2000001 is over the limit of 2000000 bytes","status":"422","source":{"pointer":"/file_size"},"meta":{"limit":2000000}}]}`},
		{createPath, `{"content_type":1,"content_type":"image/png","file_size":10}`, ok},
		{createPath, `{"content_type":"image/png","file_size":10,"content_type":5}`, prop("/content_type", "content_type is required and must be a string")},
		{createPath, `{"content_type":"image/png","file_size":10,"extra":{"a":[1,2]}}`, ok},
		{createPath, `{"content_type":"image/png","file_size":10,"pad":"` + strings.Repeat("a", 70<<10) + `"}`, `{"errors":[{"code":"BodyTooLarge","title":"Request body too large","detail":"the request body is over 65536 bytes","status":"413"}]}`},

		{claimPath, ``, prop("/token", "token is required and must be a string")},
		{claimPath, `{token}`, invalidJSON},
		{claimPath, `{"brand_id":"10016"}`, prop("/token", "token is required and must be a string")},
		{claimPath, `{"token":5,"brand_id":"10016"}`, prop("/token", "token is required and must be a string")},
		{claimPath, `{"token":"../../etc/passwd","brand_id":"10016"}`, prop("/token", "token must be the 26-character token returned when the upload was created")},
		{claimPath, `{"token":null,"brand_id":"10016"}`, prop("/token", "token must be the 26-character token returned when the upload was created")},
		{claimPath, `{"token":"{token}"}`, prop("/brand_id", "brand_id is required and must be a string or a whole number")},
		{claimPath, `{"token":"{token}","brand_id":1.5}`, prop("/brand_id", "brand_id must be a string or a whole number")},
		{claimPath, `{"token":"{token}","brand_id":1e3}`, prop("/brand_id", "brand_id must be a string or a whole number")},
		{claimPath, `{"token":"{token}","brand_id":18446744073709551616}`, prop("/brand_id", "brand_id must be a string or a whole number")},
		{claimPath, `{"token":"{token}","brand_id":-1}`, prop("/brand_id", "brand_id is required and must be a string or a whole number")},
		{claimPath, `{"token":"{token}","brand_id":{}}`, prop("/brand_id", "brand_id is required and must be a string or a whole number")},
		{claimPath, `{"token":"{token}","brand_id":true}`, prop("/brand_id", "brand_id is required and must be a string or a whole number")},
		{claimPath, `{"token":"{token}","brand_id":null}`, prop("/brand_id", "brand_id must be 1 to 64 letters, digits, '-' or '_'")},
		{claimPath, `{"token":"{token}","brand_id":"a b"}`, prop("/brand_id", "brand_id must be 1 to 64 letters, digits, '-' or '_'")},
		{claimPath, `{"token":"{token}","brand_id":99999}`, `{"errors":[{"code":"BrandNotFound","title":"Unknown brand","detail":"brand \"99999\" does not exist; an operator registers brands with ` + "`userimages brand add` or `serve --brand`" + `","status":"422","source":{"pointer":"/brand_id"}}]}`},
		{claimPath, `{"token":"01GC9JEN2X052BAKW905PH9C36","brand_id":10016}`, `{"errors":[{"code":"TokenNotFound","title":"Unknown token","detail":"no upload has this token","status":"404","source":{"pointer":"/token"}}]}`},
		{claimPath, `{"token":"{claimed}","brand_id":"20000"}`, `{"errors":[{"code":"AlreadyClaimed","title":"Already claimed","detail":"this upload was already claimed for another brand","status":"409","source":{"pointer":"/token"}}]}`},
		{claimPath, `{"token":"{claimed}","brand_id":10016}`, ok},

		{reports, ``, prop("/reason", "reason is required and must be a string")},
		{reports, `reason=spam`, invalidJSON},
		{reports, `{"detail":"x"}`, prop("/reason", "reason is required and must be a string")},
		{reports, `{"reason":5}`, prop("/reason", "reason is required and must be a string")},
		{reports, `{"reason":"boring"}`, prop("/reason", `reason \"boring\" must be one of [spam nudity violence privacy other]`)},
		{reports, `{"reason":"spam","detail":5}`, prop("/detail", "detail is required and must be a string")},
		{reports, `{"reason":"spam","detail":"` + strings.Repeat("a", 1001) + `"}`, prop("/detail", "detail must be UTF-8 text of at most 1000 bytes")},
		{reports, `{"reason":"spam","detail":null}`, ok},
		{reports, `{"reason":"spam"}`, ok},
	} {
		body := tc.body
		if strings.Contains(body, "{token}") {
			u := e.create("image/jpeg", len(img))
			e.put(u, img)
			body = strings.ReplaceAll(body, "{token}", u.Token)
		}
		body = strings.ReplaceAll(body, "{claimed}", claimed.Token)
		res := e.postJSON(tc.path, body)
		name := tc.path + " " + tc.body
		if len(name) > 120 {
			name = name[:120] + "…"
		}
		switch got := strings.TrimSuffix(string(res.body), "\n"); {
		case tc.want == ok:
			if res.status/100 != 2 {
				t.Errorf("%s: got %d %s, want a 2xx", name, res.status, got)
			}
		case got != tc.want:
			t.Errorf("%s: got %d\n%s\nwant\n%s", name, res.status, got, tc.want)
		case res.status < 400 || res.status > 499:
			t.Errorf("%s: got status %d, want a 4xx", name, res.status)
		}
	}
	if res := e.do(e.request(http.MethodPost, createPath, strings.NewReader(`{"content_type":"image/png","file_size":10}`))); res.status != http.StatusOK {
		t.Errorf("good create: got %d %s, want 200", res.status, res.body)
	}
}
