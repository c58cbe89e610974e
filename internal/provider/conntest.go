package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Stage statuses.
const (
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
	StatusPartial = "partial" // overall only
)

// Stage names.
const (
	StageConnectivity   = "connectivity"
	StageAuthentication = "authentication"
	StageEndToEnd       = "end_to_end"
)

const (
	stageTimeout = 10 * time.Second
	testMaxBody  = 1 << 20
)

// TestTarget is what a connectivity test probes.
type TestTarget struct {
	Of                 Subject     // what is tested: its summary names it
	BaseURL            string      // probed with GET
	E2EMethod, E2EPath string      // optional: the end-to-end stage uses this method+path on BaseURL (default GET BaseURL)
	Header             http.Header // extra headers sent in auth and e2e stages
	Auth               Auth
}

// Subject is what a test checks, named by its summary as the reference
// names it.
type Subject int

const (
	ProviderConfiguration Subject = iota
	ExecutorConfiguration
)

// summaries are a subject's "all passed" and "all failed" summaries.
var summaries = map[Subject][2]string{
	ProviderConfiguration: {"All tests passed - provider configuration connectivity verified",
		"All tests failed - provider configuration needs review"},
	ExecutorConfiguration: {"All tests passed - executor configuration ready for use",
		"All tests failed - executor configuration needs review"},
}

// StageResult is one stage of a test. A failed stage carries Error and no
// Message; passed and skipped stages carry Message.
type StageResult struct {
	Name       string         `json:"name"`
	Status     string         `json:"status"` // "passed" | "failed" | "skipped"
	DurationMs int64          `json:"durationMs"`
	Message    string         `json:"message,omitempty"`
	Details    map[string]any `json:"details,omitempty"`
	Error      string         `json:"error,omitempty"`
	Blocked    bool           `json:"-"` // failed because the SSRF policy refused the destination
}

// TestResult is the outcome of Client.Test. It never contains secrets.
type TestResult struct {
	OverallStatus string        `json:"overallStatus"` // "passed" | "failed" | "partial", skipped stages ignored
	DurationMs    int64         `json:"durationMs"`
	Stages        []StageResult `json:"stages"`
	Summary       string        `json:"summary"`
	StartedAt     time.Time     `json:"startedAt"`
	CompletedAt   time.Time     `json:"completedAt"`
	Passed        bool          `json:"-"` // no stage failed (connectivity always runs)
}

// Blocked reports whether a stage failed because the SSRF policy refused
// the destination: nothing was sent there.
func (r TestResult) Blocked() bool {
	return slices.ContainsFunc(r.Stages, func(s StageResult) bool { return s.Blocked })
}

// Test runs the connectivity, authentication and end-to-end stages against
// t, each bounded by 10 s, using the same request and auth code as Do.
// After a failed stage the remaining ones are skipped.
func (c *Client) Test(ctx context.Context, t TestTarget) TestResult {
	res := TestResult{StartedAt: time.Now().UTC()}
	stages := []struct {
		name string
		run  func(context.Context, TestTarget) StageResult
	}{
		{StageConnectivity, c.testConnectivity},
		{StageAuthentication, c.testAuthentication},
		{StageEndToEnd, c.testEndToEnd},
	}
	red := newRedactor(t.Auth)
	failedStage := ""
	for _, s := range stages {
		if failedStage != "" {
			res.Stages = append(res.Stages, StageResult{Name: s.name, Status: StatusSkipped, Message: "Skipped due to " + failedStage + " failure"})
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, stageTimeout)
		start := time.Now()
		sr := s.run(sctx, t)
		cancel()
		sr.Name, sr.DurationMs = s.name, time.Since(start).Milliseconds()
		// Belt and braces: Do already redacts, but a provider may echo anything.
		sr.Message, sr.Error = red.apply(sr.Message), red.apply(sr.Error)
		if u, ok := sr.Details["url"].(string); ok {
			sr.Details["url"] = red.apply(u)
		}
		if sr.Status == StatusFailed {
			failedStage = s.name
		}
		res.Stages = append(res.Stages, sr)
	}
	res.CompletedAt = time.Now().UTC()
	res.DurationMs = res.CompletedAt.Sub(res.StartedAt).Milliseconds()
	res.OverallStatus, res.Summary = overall(res.Stages, t.Of)
	res.Passed = failedStage == ""
	return res
}

func (c *Client) testConnectivity(ctx context.Context, t TestTarget) StageResult {
	resp, err := c.do(ctx, Request{Method: http.MethodGet, URL: t.BaseURL, Timeout: stageTimeout}, testMaxBody)
	if err != nil {
		return stageError(err, map[string]any{"url": displayURL(t.BaseURL)})
	}
	d := map[string]any{"statusCode": resp.StatusCode, "responseTimeMs": resp.Duration.Milliseconds(), "url": resp.URL}
	if resp.StatusCode >= 500 {
		return StageResult{Status: StatusFailed, Details: d, Error: fmt.Sprintf("unexpected status code: %d", resp.StatusCode)}
	}
	return StageResult{Status: StatusPassed, Details: d, Message: "Provider is reachable"}
}

func (c *Client) testAuthentication(ctx context.Context, t TestTarget) StageResult {
	// Static headers may carry credentials too (the reference runs this stage
	// for them); its details name the scheme and count the headers sent.
	if t.Auth.typeName() == AuthNone && len(t.Header) == 0 {
		return StageResult{Status: StatusSkipped, Message: "No authentication credentials configured"}
	}
	d := map[string]any{"authType": t.Auth.typeName(), "hasApiKey": t.Auth.Type == AuthAPIKey && t.Auth.APIKey != "",
		"headerCount": len(t.Header)}
	resp, err := c.do(ctx, Request{Method: http.MethodGet, URL: t.BaseURL, Header: t.Header, Auth: t.Auth, Timeout: stageTimeout}, testMaxBody)
	if err != nil {
		return stageError(err, d)
	}
	d["statusCode"], d["responseTimeMs"] = resp.StatusCode, resp.Duration.Milliseconds()
	sr := StageResult{Status: StatusPassed, Details: d}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		sr.Message = "Authentication successful"
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		sr.Status, sr.Error = StatusFailed, fmt.Sprintf("authentication rejected: status %d", code)
	case code >= 500:
		sr.Status, sr.Error = StatusFailed, fmt.Sprintf("server error during authentication: status %d", code)
	default:
		sr.Message = "Authentication accepted (endpoint returned non-auth error)"
	}
	return sr
}

func (c *Client) testEndToEnd(ctx context.Context, t TestTarget) StageResult {
	method := t.E2EMethod
	if method == "" {
		method = http.MethodGet
	}
	target := t.BaseURL
	if t.E2EPath != "" {
		target = strings.TrimRight(t.BaseURL, "/") + "/" + strings.TrimLeft(t.E2EPath, "/")
	}
	resp, err := c.do(ctx, Request{Method: method, URL: target, Header: t.Header, Auth: t.Auth, Timeout: stageTimeout}, testMaxBody)
	if err != nil {
		return stageError(err, nil)
	}
	d := map[string]any{
		"statusCode":      resp.StatusCode,
		"responseTimeMs":  resp.Duration.Milliseconds(),
		"responseBodyLen": len(resp.Body),
		"contentType":     resp.Header.Get("Content-Type"),
	}
	if resp.Truncated {
		d["truncated"] = true
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return StageResult{Status: StatusFailed, Details: d, Error: fmt.Sprintf("request returned status %d", resp.StatusCode)}
	}
	return StageResult{Status: StatusPassed, Details: d, Message: "Full request/response cycle completed successfully"}
}

// stageError turns a Do error into a failed stage: policy and credential errors
// speak for themselves, anything else is a transport failure.
func stageError(err error, details map[string]any) StageResult {
	var ae *AuthError
	var be *BlockedError
	var re *RequestError
	msg := err.Error() // redacted by Do
	blocked := errors.As(err, &be)
	switch {
	case errors.As(err, &ae), errors.As(err, &re), errors.Is(err, ErrInvalidAuth):
	case blocked:
		msg = be.Error()
	default:
		msg = "request failed: " + msg
	}
	return StageResult{Status: StatusFailed, Details: details, Error: msg, Blocked: blocked}
}

func overall(stages []StageResult, of Subject) (status, summary string) {
	var passed, failed int
	for _, s := range stages {
		switch s.Status {
		case StatusPassed:
			passed++
		case StatusFailed:
			failed++
		}
	}
	switch {
	case failed == 0:
		return StatusPassed, summaries[of][0]
	case passed == 0:
		return StatusFailed, summaries[of][1]
	}
	return StatusPartial, "Some tests failed - review failed stages before use"
}

// displayURL drops user info from a URL shown in results.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return safeURL(u, Auth{})
}
