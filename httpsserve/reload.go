package httpsserve

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// reloadInterval is how often, at most, the certificate files are checked
// for changes: a handshake stats them when the last check is older.
const reloadInterval = time.Second

// reloader serves an operator-managed certificate pair and reloads it when
// either file changes (modification time or size). A pair that does not
// load (a half-written file, a key of another certificate) is logged and
// the last good one kept; a later change of either file is tried again.
type reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     [2]fileStamp // of certFile and keyFile when last loaded or tried
	lastCheck time.Time
}

// fileStamp is what tells a changed file.
type fileStamp struct {
	mtime time.Time
	size  int64
}

func newReloader(certFile, keyFile string, log *slog.Logger) (*reloader, error) {
	r := &reloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	stamp, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	r.cert, r.stamp, r.lastCheck = &cert, stamp, r.now()
	return r, nil
}

func (r *reloader) stat() ([2]fileStamp, error) {
	var st [2]fileStamp
	for i, name := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return st, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		st[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return st, nil
}

// GetCertificate is tls.Config.GetCertificate: the current pair, reloaded
// first if the files changed since the last check.
func (r *reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.lastCheck) >= reloadInterval {
		r.lastCheck = now
		r.reloadIfChanged()
	}
	return r.cert, nil
}

// reloadIfChanged loads the pair if its files changed; r.mu is held.
func (r *reloader) reloadIfChanged() {
	stamp, err := r.stat()
	if err != nil {
		r.log.Warn("TLS certificate files unreadable; serving the last good pair", "err", err)
		return
	}
	if stamp == r.stamp {
		return
	}
	r.stamp = stamp
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.log.Warn("TLS certificate files changed but do not load; serving the last good pair", "err", err)
		return
	}
	r.cert = &cert
	r.log.Info("TLS certificate reloaded", "cert", r.certFile)
}
