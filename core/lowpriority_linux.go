package core

import (
	"log/slog"
	"runtime"
	"syscall"
)

// lowPriority gives the calling goroutine a thread of its own, niced to
// hasherNice, so that the kernel runs it after the request handlers when
// the cores are busy. The thread is never unlocked: it ends with the
// goroutine.
func lowPriority(log *slog.Logger) {
	runtime.LockOSThread()
	// On Linux, PRIO_PROCESS with a thread id sets that thread's priority.
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), hasherNice); err != nil {
		log.Info("the perceptual hasher runs at normal priority", "err", err)
	}
}

// hasherNice is the background hasher's nice value (0 normal, 19 lowest).
const hasherNice = 10
