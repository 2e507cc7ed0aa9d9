// Package stallproxy is a loopback TCP proxy for tests that can stop
// forwarding, as a network that silently drops packets or a server that
// hangs looks to its clients: while stalled it still accepts connections
// and reads what clients send, but holds it, dials nothing and forwards
// nothing either way. Resume forwards what it held and carries on.
package stallproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections to one target address until Stall.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	running chan struct{} // closed while forwarding; a new open one while stalled
	conns   map[net.Conn]struct{}
}

// Start listens on a loopback port and forwards every connection to
// target, until t ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("stallproxy: %v", err)
	}
	running := make(chan struct{})
	close(running)
	p := &Proxy{ln: ln, target: target, running: running, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stall stops forwarding: connections and bytes are held, not refused.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.running:
		p.running = make(chan struct{})
	default: // stalled already
	}
}

// Resume forwards again, what was held first.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.running:
	default:
		close(p.running)
	}
}

// wait returns when the proxy forwards.
func (p *Proxy) wait() {
	p.mu.Lock()
	running := p.running
	p.mu.Unlock()
	<-running
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		go p.forward(c)
	}
}

// track records c, to be closed with the proxy; false if it is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) forward(client net.Conn) {
	defer client.Close()
	p.wait()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { p.pump(server, client); done <- struct{}{} }()
	go func() { p.pump(client, server); done <- struct{}{} }()
	<-done
}

// pump copies from src to dst, holding each chunk while stalled; the end
// of src closes dst.
func (p *Proxy) pump(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.wait()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			p.wait()
			return
		}
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.Resume()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
