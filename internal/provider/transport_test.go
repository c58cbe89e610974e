package provider

import (
	"crypto/x509"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/provider/providertest"
)

func trusting(s *providertest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}

// burst makes n calls at once to path and waits for them all.
func burst(t *testing.T, c *Client, url string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			resp, err := c.Do(t.Context(), Request{URL: url})
			if err == nil && resp.StatusCode != http.StatusOK {
				err = http.ErrNotSupported
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// A provider offering HTTP/2 gets it: concurrent calls share one
// connection instead of opening one each. (Calls that start together
// before the first connection is up each dial, and all but one of those
// connections are closed after the handshake; hence the first call.)
func TestHTTP2WhenTheProviderOffersIt(t *testing.T) {
	t.Parallel()
	srv := providertest.NewHTTP2(t)
	release := make(chan struct{})
	srv.Hold("/slow", release)
	c := New(Options{AllowPrivate: true, RootCAs: trusting(srv)})
	burst(t, c, srv.LocalhostURL()+"/first", 1)
	done := make(chan struct{})
	go func() { burst(t, c, srv.LocalhostURL()+"/slow", 20); close(done) }()
	require.Eventually(t, func() bool { return len(srv.RequestsTo("/slow")) == 20 }, 5*time.Second, time.Millisecond)
	close(release)
	<-done
	for _, r := range srv.RequestsTo("/slow") {
		require.Equal(t, "HTTP/2.0", r.Proto)
	}
	require.Equal(t, 1, srv.Connections(), "20 calls in flight together on one connection")

	// A provider that does not offer it is called over HTTP/1.1.
	old := providertest.NewTLS(t)
	_, err := New(Options{AllowPrivate: true, RootCAs: trusting(old)}).Do(t.Context(), Request{URL: old.LocalhostURL() + "/x"})
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1", old.RequestsTo("/x")[0].Proto)
}

// The SSRF check is the dialer's, so it applies on the HTTP/2 path too.
func TestSSRFGuardOnHTTP2(t *testing.T) {
	t.Parallel()
	srv := providertest.NewHTTP2(t)
	_, err := New(Options{RootCAs: trusting(srv)}).Do(t.Context(), Request{URL: srv.LocalhostURL() + "/x"})
	requireBlocked(t, err, "localhost", "127.0.0.1|::1", "loopback")
	// Also through the transport a telemetry wrapper wraps.
	wrapped := NewTransport(Options{RootCAs: trusting(srv)})
	_, err = New(Options{Transport: wrapped}).Do(t.Context(), Request{URL: srv.URL + "/x"})
	requireBlocked(t, err, "127.0.0.1", "127.0.0.1", "loopback")
	require.Empty(t, srv.Requests())
	require.Zero(t, srv.Connections(), "refused before connecting")
}

// Connections to one host are not capped (the engine bounds calls per
// provider configuration, and configurations may share a host), and up to
// IdleConnsPerHost of them are kept for the next calls.
func TestConnectionsPerHostKeptNotCapped(t *testing.T) {
	t.Parallel()
	srv := providertest.New(t)
	release := make(chan struct{})
	srv.Hold("/slow", release)
	c := New(Options{AllowPrivate: true, IdleConnsPerHost: 4})
	done := make(chan struct{})
	go func() { burst(t, c, srv.URL+"/slow", 20); close(done) }()
	require.Eventually(t, func() bool { return len(srv.RequestsTo("/slow")) == 20 }, 5*time.Second, time.Millisecond,
		"every call reaches the host at once: none waits for a connection")
	close(release)
	<-done
	require.Equal(t, 20, srv.Connections())
	burst(t, c, srv.URL+"/fast", 4)
	require.Equal(t, 20, srv.Connections(), "4 kept idle and reused")
}

// By default as many connections stay idle as may be open: a burst
// larger than Go's default of 2 idle per host reuses them all.
func TestDefaultTransportKeepsItsConnections(t *testing.T) {
	t.Parallel()
	srv := providertest.New(t)
	release := make(chan struct{})
	srv.Hold("/slow", release)
	c := New(Options{AllowPrivate: true})
	const n = 40
	done := make(chan struct{})
	go func() { burst(t, c, srv.URL+"/slow", n); close(done) }()
	require.Eventually(t, func() bool { return len(srv.RequestsTo("/slow")) == n }, 5*time.Second, time.Millisecond)
	close(release)
	<-done
	require.Equal(t, n, srv.Connections())
	burst(t, c, srv.URL+"/fast", n)
	require.Equal(t, n, srv.Connections(), "every connection of the first burst reused")
}
