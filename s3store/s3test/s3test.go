// Package s3test runs a real S3 server for tests: a Versity S3 Gateway
// (versitygw) on loopback, storing in a temporary directory, one per call
// to Start and stopped when the test ends.
//
// versitygw is looked up on PATH, then in $GOBIN and $(go env GOPATH)/bin.
// Install it with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// Without it tests skip, unless the environment variable CI is set: then
// they fail, so that CI never passes by skipping.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"userimages/internal/testkit/testbin"
)

// Install is the command that installs the gateway this package runs.
const Install = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// startTimeout bounds how long the gateway may take to answer.
const startTimeout = 30 * time.Second

// Server is a running gateway. Its root user's credentials are AccessKey and
// SecretKey; it accepts any bucket name valid in S3.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
	client    *s3.Client
	proc      *os.Process
}

// Start runs a gateway for the rest of t, or skips t (fails it under CI) if
// versitygw is not installed. Its log is shown if t fails.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := testbin.Find("versitygw")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("s3test: %v; install it with: %s", err, Install)
		}
		t.Skipf("s3test: %v; install it with: %s (under CI=1 this fails)", err, Install)
	}
	dir := t.TempDir()
	s := &Server{AccessKey: "s3test" + randHex(4), SecretKey: randHex(20), Region: "us-east-1"}
	root, sidecar, logPath := filepath.Join(dir, "root"), filepath.Join(dir, "meta"), filepath.Join(dir, "versitygw.log")
	for _, d := range []string{root, sidecar} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("s3test: %v", err)
		}
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(func() {
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("s3test: versitygw log (%s):\n%s", logPath, b)
		}
	})
	// A free port can be taken by someone else before the gateway binds
	// it; then the gateway exits and another port is tried.
	for attempt := 1; ; attempt++ {
		addr := testbin.FreeAddr(t)
		// Metadata goes to a sidecar directory rather than extended
		// attributes, which some temporary file systems lack.
		cmd := exec.Command(bin, "--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
			"--quiet", "posix", "--sidecar", sidecar, root)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatalf("s3test: start %s: %v", bin, err)
		}
		exited, stop := testbin.Watch(cmd)
		s.Endpoint = "http://" + addr
		err := waitUp(s.Endpoint, exited)
		if err == nil {
			s.proc = cmd.Process
			// Continued before it is stopped, so that a test that
			// paused it cannot leave it stopped.
			t.Cleanup(stop)
			t.Cleanup(func() { s.Continue(t) })
			break
		}
		stop()
		if attempt == 3 {
			t.Fatalf("s3test: versitygw on %s: %v (log: %s)", addr, err, logPath)
		}
	}
	s.client = s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		UsePathStyle: true,
		Credentials:  aws.NewCredentialsCache(aws.CredentialsProviderFunc(s.credentials)),
	})
	return s
}

// Pause stops the gateway with SIGSTOP: the kernel still accepts its
// connections, but nothing answers, as a hung server looks to clients.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	if err := s.proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("s3test: SIGSTOP: %v", err)
	}
}

// Continue resumes a gateway stopped by Pause (SIGCONT).
func (s *Server) Continue(t testing.TB) {
	t.Helper()
	if err := s.proc.Signal(syscall.SIGCONT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("s3test: SIGCONT: %v", err)
	}
}

func (s *Server) credentials(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey, Source: "s3test"}, nil
}

// NewBucket creates an empty bucket with a fresh name and returns the name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := "t-" + randHex(8)
	if _, err := s.client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	return name
}

// AllowBrowsers gives bucket the CORS rule DEPLOYMENT.md asks for, so that
// pages on origins can PUT uploads straight to it and read the images.
func (s *Server) AllowBrowsers(t testing.TB, bucket string, origins ...string) {
	t.Helper()
	_, err := s.client.PutBucketCors(t.Context(), &s3.PutBucketCorsInput{
		Bucket: &bucket,
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
			AllowedMethods: []string{"PUT", "GET", "HEAD"},
			AllowedOrigins: origins,
			AllowedHeaders: []string{"content-type", "content-disposition", "x-amz-server-side-encryption"},
			ExposeHeaders:  []string{"ETag"},
			MaxAgeSeconds:  aws.Int32(600),
		}}},
	})
	if err != nil {
		t.Fatalf("s3test: put bucket cors %s: %v", bucket, err)
	}
}

// URL returns the s3:// URL that s3store.Open takes for bucket on this
// server. Open reads the credentials from the environment: see Env and
// Setenv.
func (s *Server) URL(bucket string) string {
	q := url.Values{"endpoint": {s.Endpoint}, "region": {s.Region}, "path_style": {"true"}}
	return "s3://" + bucket + "?" + q.Encode()
}

// Env returns the environment variables that give the AWS SDK this
// server's credentials, for a child process's environment (appended to
// os.Environ, they win). The profile and session token are cleared so that
// a developer's own AWS configuration does not interfere.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_REGION=" + s.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Setenv sets Env in this process for the rest of t, for code under test
// that loads the standard AWS configuration. Like t.Setenv, it cannot be
// used in parallel tests.
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// waitUp waits until endpoint answers HTTP (any status: unauthenticated
// requests are refused) or the gateway exits.
func waitUp(endpoint string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before answering")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %v: %w", startTimeout, err)
		}
	}
}

// randHex returns n random bytes in hex.
func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
