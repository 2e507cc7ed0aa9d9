package variant

import (
	"os"
	"testing"

	"github.com/userimages/userimages/client/api"
)

// TestFixtureOrientations: the orientation of files as exiftool writes
// them (imagesafe/testdata: orientation 6 in a JPEG, a PNG and a WebP).
func TestFixtureOrientations(t *testing.T) {
	for _, tc := range []struct {
		file string
		f    api.Format
	}{
		{"gps_rotated.jpg", api.JPEG},
		{"text.png", api.PNG},
		{"meta.webp", api.WebP},
	} {
		data, err := os.ReadFile("../imagesafe/testdata/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Inspect(data, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if s.Orientation != 6 {
			t.Errorf("%s: got orientation %d, want 6", tc.file, s.Orientation)
		}
	}
}
