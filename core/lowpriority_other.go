//go:build !linux

package core

import "log/slog"

// lowPriority does nothing here: the background hasher runs at normal
// priority, one image at a time.
func lowPriority(*slog.Logger) {}
