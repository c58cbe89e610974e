package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"flowker/internal/provider"
	"flowker/internal/store"
)

// RetryPolicy: attempts per step, with exponential backoff and full jitter
// between them (a random wait in [0, min(Max, Base·2^n)]).
type RetryPolicy struct {
	MaxAttempts int           // default 5
	Base        time.Duration // default 200ms
	Max         time.Duration // default 10s
}

func (p *RetryPolicy) defaults() {
	setDefault(&p.MaxAttempts, 5)
	setDefault(&p.Base, 200*time.Millisecond)
	setDefault(&p.Max, 10*time.Second)
}

func (p RetryPolicy) backoff(attempt int) time.Duration {
	ceiling := min(p.Max, p.Base<<min(attempt, 30))
	return time.Duration(rand.Int64N(int64(ceiling) + 1)) //nolint:gosec // jitter, not security
}

// BreakerPolicy: a target's breaker opens after Failures consecutive
// transient failures and lets one trial call through after OpenFor.
type BreakerPolicy struct {
	Failures int           // default 5
	OpenFor  time.Duration // default 30s
}

func (p *BreakerPolicy) defaults() {
	setDefault(&p.Failures, 5)
	setDefault(&p.OpenFor, 30*time.Second)
}

// breakers holds one circuit breaker per provider or executor configuration.
type breakers struct {
	policy BreakerPolicy
	mu     sync.Mutex
	m      map[string]*breaker
}

type breaker = gobreaker.CircuitBreaker[*provider.Response]

func (b *breakers) get(key string) *breaker {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cb, ok := b.m[key]; ok {
		return cb
	}
	failures := uint32(b.policy.Failures) //nolint:gosec // a small positive setting
	cb := gobreaker.NewCircuitBreaker[*provider.Response](gobreaker.Settings{
		Name:        key,
		MaxRequests: 1,
		Timeout:     b.policy.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			var te *transientError
			return !errors.As(err, &te) // only transient failures count against a target
		},
		// A call its own execution cut short (cancel, deadline) says nothing
		// of the target: as a success, a half-open trial that never got an
		// answer would close the breaker. Nor does a request that could not
		// be sent because of its own content (a CR or LF in a header).
		IsExcluded: func(err error) bool {
			var cs *cutShortError
			var unsendable *provider.RequestError
			var answer *provider.AnswerError // it answered: available, as an answer over the body's cap
			return errors.As(err, &cs) || errors.As(err, &unsendable) || errors.As(err, &answer)
		},
	})
	b.m[key] = cb
	return cb
}

// transientError is a failure worth retrying: transport errors, 5xx, 429.
type transientError struct {
	err        error
	retryAfter time.Duration
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// cutShortError is a call ended by its execution's own context, before
// the target answered.
type cutShortError struct{ err error }

func (e *cutShortError) Error() string { return e.err.Error() }
func (e *cutShortError) Unwrap() error { return e.err }

// callWithRetry makes up to MaxAttempts attempts through t's breaker.
func (e *Engine) callWithRetry(ctx context.Context, t target, req provider.Request) (*provider.Response, int, error) {
	cb := e.breakers.get(t.breakerKey)
	var last *provider.Response
	var err error
	attempt := 0
	for attempt < e.opts.Retry.MaxAttempts {
		attempt++
		var resp *provider.Response
		resp, err = cb.Execute(func() (*provider.Response, error) { return e.attempt(ctx, t, req) })
		if resp != nil {
			last = resp
		}
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return last, attempt, fmt.Errorf("circuit breaker open for %s (FLK-0507): too many recent failures", t.breakerKey)
		}
		var te *transientError
		if err == nil || !errors.As(err, &te) {
			break
		}
		if attempt == e.opts.Retry.MaxAttempts {
			break
		}
		wait := max(e.opts.Retry.backoff(attempt-1), te.retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			break // waiting would outlive the execution
		}
		select {
		case <-e.clock.After(wait):
		case <-ctx.Done():
			return last, attempt, fmt.Errorf("%w (after %d attempts: %w)", context.Cause(ctx), attempt, err)
		}
		if t.current != nil {
			// Disabled or replaced since the call began: not sent again with
			// its credentials (found by a defect hunt). A store that cannot
			// tell right now is no reason to give the call up.
			if cerr := t.current(ctx); cerr != nil && !store.Transient(cerr) {
				return last, attempt, fmt.Errorf("%w (after %d attempt%s; not retried: %w)", err, attempt, plural(attempt), cerr)
			}
		}
	}
	if err != nil {
		return last, attempt, fmt.Errorf("%w (after %d attempt%s)", err, attempt, plural(attempt))
	}
	return last, attempt, nil
}

// attempt is one call; it classifies the outcome for retries and breaker.
func (e *Engine) attempt(ctx context.Context, t target, req provider.Request) (*provider.Response, error) {
	start := time.Now()
	resp, err := e.http.Do(ctx, req)
	outcome, code := "success", 0
	defer func() { e.metrics.ProviderCall(ctx, t.breakerKey, outcome, code, time.Since(start)) }()
	if err != nil {
		var blocked *provider.BlockedError
		var auth *provider.AuthError
		var unsendable *provider.RequestError
		var answer *provider.AnswerError
		switch {
		case errors.As(err, &blocked):
			outcome = "blocked"
			return nil, err // policy, not a passing fault
		case errors.As(err, &unsendable):
			// The request itself cannot be sent (a header HTTP does not
			// allow, an unusable auth configuration): nothing was sent, and
			// it fails the same way every time, whatever the target's state.
			outcome = "invalid_request"
			return nil, err
		case errors.As(err, &answer):
			// It answered, with headers over the transport's memory bound
			// (1 MiB; a step records 64 KiB of them, flatHeaders): it may
			// have acted on the call, and answers the same again. Not
			// retried, as an answer over the body's cap is not (found by a
			// review: a POST was sent again). Over HTTP/2 such an answer may
			// come as a bare connection error instead, a transport error
			// retried with the same Idempotency-Key: nothing tells it apart.
			outcome = "invalid_response"
			return nil, err
		case errors.As(err, &auth) && auth.StatusCode >= 300 && auth.StatusCode < 500:
			// Refused credentials, or a redirecting token endpoint (not followed).
			outcome = "auth_error"
			return nil, err
		case ctx.Err() != nil:
			outcome = "timeout"
			return nil, &cutShortError{err: err}
		}
		outcome = "transport_error"
		return nil, &transientError{err: err}
	}
	code = resp.StatusCode
	switch {
	case t.success(resp.StatusCode):
		return resp, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		outcome = "http_error"
		return resp, &transientError{err: httpError(resp), retryAfter: retryAfter(resp)}
	default:
		outcome = "http_error"
		return resp, httpError(resp) // other 4xx: the request is wrong; retrying will not fix it
	}
}

func httpError(resp *provider.Response) error {
	return fmt.Errorf("provider answered %d %s: %s", resp.StatusCode, http.StatusText(resp.StatusCode),
		truncate(string(resp.Body), 512))
}

// retryAfter reads Retry-After in seconds or as an HTTP date, capped at 60s.
func retryAfter(resp *provider.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, time.Minute)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), time.Minute)
	}
	return 0
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
