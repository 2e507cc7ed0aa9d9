//go:build !linux

package durable

import (
	"errors"
	"os"
)

// CanLinkUnnamed: unnamed temporary files are Linux's; elsewhere files are
// written under a temporary name.
func CanLinkUnnamed(string) bool { return false }

func createUnnamed(string) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkUnnamed(*os.File, string) error { return errors.ErrUnsupported }
