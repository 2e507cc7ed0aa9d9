//go:build !linux

package localdisk

import (
	"errors"
	"os"
)

func openFile(name string) (*os.File, error) { return os.Open(name) }

// freeSpace is not known here: free-space checks are skipped.
func freeSpace(string) (int64, error) { return 0, errors.ErrUnsupported }
