// Package httpsserve serves HTTPS from the single binary: certificates
// obtained and renewed over ACME (golang.org/x/crypto/acme/autocert), or a
// certificate and key the operator manages, reloaded when the files change.
// It gives the server's TLS configuration, the HSTS wrapper of the HTTPS
// handler, and the handler of the plain-HTTP port, which answers ACME
// HTTP-01 challenges and redirects everything else to HTTPS.
package httpsserve

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"userimages/internal/config"
)

// DefaultHSTSMaxAge is the Strict-Transport-Security max-age sent when
// Config.HSTSMaxAge is left zero: one year, as OWASP and Mozilla's
// guidelines recommend. The service exists to be embedded in HTTPS pages,
// where browsers refuse plain-HTTP images anyway, so there is nothing to
// lose by pinning the host to HTTPS; the header names only this host (no
// includeSubDomains, no preload).
const DefaultHSTSMaxAge = 365 * 24 * time.Hour

// CacheDirName is the directory inside the data directory that keeps the
// ACME account key and the certificates (files of mode 0600 in a directory
// of mode 0700, as autocert.DirCache writes them).
const CacheDirName = "acme"

// Config says how HTTPS is served: either ACME certificates for Domains, or
// the pair CertFile and KeyFile. The zero Config serves no HTTPS.
type Config struct {
	// Domains are the host names certificates are obtained for over ACME;
	// requests for other names get no certificate.
	Domains []string
	// ACMEDirectory is the ACME server's directory URL (default: Let's
	// Encrypt's production CA, autocert.DefaultACMEDirectory). Its
	// certificate is checked against the system's trust store, which
	// SSL_CERT_FILE may replace.
	ACMEDirectory string
	// ACMEEmail is the optional contact address of the ACME account.
	ACMEEmail string
	// DataDir is the data directory; with Domains, the account key and the
	// certificates are kept in DataDir/acme and reused across restarts.
	DataDir string
	// CertFile and KeyFile are a PEM certificate chain and its key, managed
	// by the operator; reloaded when either file changes (checked at most
	// once a second).
	CertFile, KeyFile string
	// HSTSMaxAge is the max-age of the Strict-Transport-Security header of
	// every HTTPS answer; zero sends none. `serve` defaults it to
	// DefaultHSTSMaxAge.
	HSTSMaxAge time.Duration
}

// Enabled reports whether c asks for HTTPS at all.
func (c Config) Enabled() bool {
	return len(c.Domains) > 0 || c.CertFile != "" || c.KeyFile != ""
}

// ConfigField names a field of Config in the errors of Validate (see
// package internal/config): its string is the field's Go name.
type ConfigField string

// The fields of Config.
const (
	ConfigDomains       ConfigField = "Domains"
	ConfigACMEDirectory ConfigField = "ACMEDirectory"
	ConfigACMEEmail     ConfigField = "ACMEEmail"
	ConfigDataDir       ConfigField = "DataDir"
	ConfigCertFile      ConfigField = "CertFile"
	ConfigKeyFile       ConfigField = "KeyFile"
	ConfigHSTSMaxAge    ConfigField = "HSTSMaxAge"
)

// Validate checks c: ACME or a certificate pair, not both; names that are
// host names; an ACME directory that is an https URL. It is pure; the error
// is a *config.FieldError naming the first field refused.
func (c Config) Validate() error {
	if err := c.checkPair(); err != nil {
		return err
	}
	for _, d := range c.Domains {
		if err := checkDomain(d); err != nil {
			return config.Invalid(ConfigDomains, d, err.Error())
		}
	}
	switch {
	case len(c.Domains) > 0 && c.DataDir == "":
		return &config.FieldError{Field: ConfigDomains, Rule: "needs {other} to keep certificates in", Other: ConfigDataDir}
	case c.ACMEDirectory != "" && !strings.HasPrefix(c.ACMEDirectory, "https://"):
		return config.Invalid(ConfigACMEDirectory, c.ACMEDirectory, "want an https:// URL")
	case c.HSTSMaxAge < 0:
		return config.Invalid(ConfigHSTSMaxAge, c.HSTSMaxAge, "must not be negative (0 sends no header)")
	case c.ACMEDirectory != "" && len(c.Domains) == 0:
		return &config.FieldError{Field: ConfigACMEDirectory, Rule: "needs {other}", Other: ConfigDomains}
	case c.ACMEEmail != "" && len(c.Domains) == 0:
		return &config.FieldError{Field: ConfigACMEEmail, Rule: "needs {other}", Other: ConfigDomains}
	}
	return nil
}

// checkPair checks that a certificate comes with its key, and not with
// ACME's domains.
func (c Config) checkPair() error {
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		return &config.FieldError{Field: ConfigCertFile, Rule: "and {other} go together", Other: ConfigKeyFile}
	case c.KeyFile != "" && c.CertFile == "":
		return &config.FieldError{Field: ConfigKeyFile, Rule: "and {other} go together", Other: ConfigCertFile}
	case c.CertFile != "" && len(c.Domains) > 0:
		return &config.FieldError{Field: ConfigDomains, Rule: "(ACME certificates) and {other} (your own) exclude each other", Other: ConfigCertFile}
	}
	return nil
}

// checkDomain accepts a DNS name: no scheme, port, path or wildcard, not an
// IP address (ACME CAs issue for names).
func checkDomain(d string) error {
	switch {
	case d == "" || len(d) > 253:
		return fmt.Errorf("want a host name")
	case net.ParseIP(d) != nil:
		return fmt.Errorf("an IP address; want a host name")
	case !strings.Contains(d, "."):
		return fmt.Errorf("want a fully qualified host name such as images.example.com")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("want a host name such as images.example.com")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("want a host name such as images.example.com (letters, digits, '-' and '.')")
			}
		}
	}
	return nil
}

// Server is what serving HTTPS takes: the TLS configuration of the HTTPS
// listener and the handlers of both ports.
type Server struct {
	tls       *tls.Config
	acme      *autocert.Manager // nil with an operator-managed pair
	hstsValue string            // "" sends no header
	domains   []string
}

// New prepares HTTPS as cfg says. With a certificate pair, it loads it
// once, so that a missing or bad pair fails at start.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if !cfg.Enabled() {
		return nil, fmt.Errorf("httpsserve: no Domains and no CertFile")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{domains: cfg.Domains}
	if cfg.HSTSMaxAge > 0 {
		s.hstsValue = "max-age=" + strconv.FormatInt(int64(cfg.HSTSMaxAge/time.Second), 10)
	}
	if len(cfg.Domains) > 0 {
		dir := cfg.ACMEDirectory
		if dir == "" {
			dir = autocert.DefaultACMEDirectory
		}
		s.acme = &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(filepath.Join(cfg.DataDir, CacheDirName)),
			HostPolicy: autocert.HostWhitelist(cfg.Domains...),
			Email:      cfg.ACMEEmail,
			Client:     &acme.Client{DirectoryURL: dir, UserAgent: "userimages"},
		}
		// TLSConfig offers h2, http/1.1 and acme-tls/1 (TLS-ALPN-01).
		s.tls = s.acme.TLSConfig()
		return s, nil
	}
	r, err := newReloader(cfg.CertFile, cfg.KeyFile, log)
	if err != nil {
		return nil, err
	}
	s.tls = &tls.Config{GetCertificate: r.GetCertificate, NextProtos: []string{"h2", "http/1.1"}}
	return s, nil
}

// TLSConfig is the configuration of the HTTPS listener: Go's defaults (TLS
// 1.2 and later, its cipher suites), HTTP/2, and the certificates.
func (s *Server) TLSConfig() *tls.Config { return s.tls.Clone() }

// Handler wraps the HTTPS port's handler h: every answer carries
// Strict-Transport-Security.
func (s *Server) Handler(h http.Handler) http.Handler {
	if s.hstsValue == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", s.hstsValue)
		h.ServeHTTP(w, r)
	})
}

// RedirectHandler is the plain-HTTP port's handler: with ACME it answers
// HTTP-01 challenges; everything else is redirected (308, which keeps the
// method and body) to the same path over HTTPS on httpsPort. The target host
// is the request's when it is one of the domains (or any host with a
// certificate pair, whose names this server does not know), else the first
// domain: the redirect never points at a host the operator did not name.
func (s *Server) RedirectHandler(httpsPort int) http.Handler {
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if len(s.domains) > 0 && !containsFold(s.domains, host) {
			host = s.domains[0]
		}
		if host == "" {
			http.Error(w, "Bad Request: no Host header", http.StatusBadRequest)
			return
		}
		if httpsPort != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(httpsPort))
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
	if s.acme == nil {
		return redirect
	}
	challenges := s.acme.HTTPHandler(redirect)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// autocert's host policy judges the Host header as it is: a port
		// in it (a plain port other than 80) would refuse every challenge.
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			r = r.Clone(r.Context())
			r.Host = h
		}
		challenges.ServeHTTP(w, r)
	})
}

// PublicURL is the origin clients reach the HTTPS port at when the
// operator sets none: https://<first domain>, with the port unless it is
// 443; "" with a certificate pair (each request's Host is used then).
func (s *Server) PublicURL(httpsPort int) string {
	if len(s.domains) == 0 {
		return ""
	}
	if httpsPort == 443 {
		return "https://" + s.domains[0]
	}
	return "https://" + net.JoinHostPort(s.domains[0], strconv.Itoa(httpsPort))
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
