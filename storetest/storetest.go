// Package storetest holds conformance suites for the store interfaces of
// package core, in the style of go-cloud's blob/drivertest: an implementation
// runs them from its own tests with a function that opens a fresh, empty
// store.
//
//	func TestConformance(t *testing.T) {
//		storetest.TestBlobStore(t, func(t *testing.T) core.BlobStore {
//			s, err := localdisk.Open(t.TempDir())
//			...
//			return s
//		})
//	}
package storetest

import (
	"errors"
	"fmt"
	"testing"
)

// ulid returns a 26-character upload token of the shape the service uses
// (a ULID), distinct for each n.
func ulid(n int) string { return fmt.Sprintf("01HZX3%020d", n) }

// imageID returns a 22-character URL-safe base64 image id, distinct for each n.
func imageID(n int) string { return fmt.Sprintf("Zq_-%018d", n) }

// wantErr fails t unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// noErr fails t now if err is not nil.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: got error %v, want nil", what, err)
	}
}

// errorsIsAny reports whether errors.Is(err, target) for any target.
func errorsIsAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
