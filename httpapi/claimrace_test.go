package httpapi_test

import (
	"encoding/json"
	"sync"
	"testing"
)

// TestConcurrentClaimsOfOneToken: every one of many simultaneous claims of
// one token gets the same image, and exactly one image exists.
func TestConcurrentClaimsOfOneToken(t *testing.T) {
	e := newEnv(t)
	img := testJPEG(t, 64, 64)
	u := e.create("image/jpeg", len(img))
	e.put(u, img)
	const n = 30
	paths := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := e.postJSON(claimPath, e.claimBody(u.Token, "10016"))
			var got struct {
				UserImage struct{ Path string } `json:"user_image"`
			}
			json.Unmarshal(res.body, &got)
			paths[i], statuses[i] = got.UserImage.Path, res.status
		})
	}
	wg.Wait()
	for i := range n {
		if statuses[i] != 201 || paths[i] != paths[0] || paths[i] == "" {
			t.Errorf("claim %d: got %d %q, want 201 %q", i, statuses[i], paths[i], paths[0])
		}
	}
	images, err := e.db.Images(t.Context())
	if err != nil || len(images) != 1 {
		t.Errorf("images stored: got %d, %v; want 1", len(images), err)
	}
}
