//go:build !linux

package localdisk

import (
	"errors"
	"os"
)

func openFile(name string) (*os.File, error) { return os.Open(name) }

// Unnamed temporary files are Linux's; elsewhere Put names its temp files.
func canLinkUnnamed(string) bool { return false }

func createUnnamed(string) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkUnnamed(*os.File, string) error { return errors.ErrUnsupported }

// freeSpace is not known here: free-space checks are skipped.
func freeSpace(string) (int64, error) { return 0, errors.ErrUnsupported }
