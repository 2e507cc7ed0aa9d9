package pdq

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func randomHash(rng *rand.Rand) Hash {
	var h Hash
	for i := range h {
		h[i] = byte(rng.Uint32())
	}
	return h
}

// flip returns h with n distinct random bits changed.
func flip(rng *rand.Rand, h Hash, n int) Hash {
	for _, k := range rng.Perm(256)[:n] {
		h[k/8] ^= 1 << (k % 8)
	}
	return h
}

func TestIndexAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var x Index
	var all []Hash
	base := randomHash(rng)
	for i := range 5000 {
		h := randomHash(rng)
		if i%50 == 0 { // some near base, at every distance around the radius
			h = flip(rng, base, i/50%64)
		}
		all = append(all, h)
	}
	for i := 0; i < len(all); i += 1000 { // added in batches
		tags := make([]uint32, 0, 1000)
		for j := range all[i : i+1000] {
			tags = append(tags, uint32(i+j))
		}
		x.Add(all[i:i+1000], tags)
	}
	if x.Len() != len(all) {
		t.Fatalf("Len %d want %d", x.Len(), len(all))
	}
	for _, radius := range []int{0, 10, 31, 40} {
		var want []Match
		for i, h := range all {
			if d := Distance(h, base); d <= radius {
				want = append(want, Match{Tag: uint32(i), Distance: d})
			}
		}
		got := x.Within(base, radius)
		if !slices.Equal(got, want) {
			t.Errorf("radius %d: got %v want %v", radius, got, want)
		}
		m, ok := x.Nearest(base, radius)
		if ok != (len(want) > 0) {
			t.Fatalf("radius %d: Nearest ok %v with %d within", radius, ok, len(want))
		}
		if ok && m.Distance != slices.MinFunc(want, func(a, b Match) int { return a.Distance - b.Distance }).Distance {
			t.Errorf("radius %d: Nearest %v, not the nearest of %v", radius, m, want)
		}
	}
	x.Replace(&Index{})
	if _, ok := x.Nearest(base, 256); ok || x.Len() != 0 {
		t.Error("an index replaced by an empty one still matches")
	}
}

func TestParseList(t *testing.T) {
	h1 := strings.Repeat("ab", 32)
	h2 := strings.Repeat("0f", 32)
	dih := strings.Repeat(h2+",", 8)
	list := "# a comment\n\n" + h1 + "\n" + h2 + ",87,photo.jpg\r\n  " + strings.ToUpper(h1) + " , 100 , a,b,c\n" + dih + "90,x.jpg\n"
	got, err := ParseList(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ParseHash(h1)
	b, _ := ParseHash(h2)
	want := []ListEntry{{a, -1}, {b, 87}, {a, 100}}
	for range 8 {
		want = append(want, ListEntry{b, 90})
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}

	for _, tc := range []struct{ list, err string }{
		{h1 + "\n" + h1[:63] + "\n", "line 2: "},
		{h1 + ",101\n", "line 1: quality"},
		{h1 + ",-1\n", "line 1: quality"},
		{h1 + ",high\n", "line 1: quality"},
		{"#\n" + h1 + "," + h2 + "\n", "line 2: "},
		{"\n\n" + strings.Repeat("x", 70000), "line 3: longer"},
		{"zz" + h1[2:] + "\n", "line 1: "},
	} {
		got, err := ParseList(strings.NewReader(tc.list))
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) || got != nil {
			t.Errorf("%.40q: got %v, %v; want nothing and an error starting %q", tc.list, got, err, tc.err)
		}
	}
}

// TestBoxColumns: filtering all columns at once gives box's results to
// the bit, for every window the filter uses.
func TestBoxColumns(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, cols = 97, 13
	in := make([]float32, rows*cols)
	for i := range in {
		in[i] = rng.Float32() * 255
	}
	for w := 1; w <= 9; w++ {
		got := make([]float32, len(in))
		boxColumns(in, got, rows, cols, w)
		want := make([]float32, len(in))
		for j := range cols {
			box(in[j:], want[j:], rows, cols, w)
		}
		if !slices.Equal(got, want) {
			t.Errorf("window %d: boxColumns differs from box", w)
		}
	}
}
