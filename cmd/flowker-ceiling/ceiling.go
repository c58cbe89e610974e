package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
)

// ceiling serves the webhook and runs each execution: the three writes and
// the two calls, nothing else.
type ceiling struct {
	o        options
	w        *writer
	client   *http.Client
	midazTx  string // Midaz's create-transaction URL
	running  sync.WaitGroup
	failures atomic.Int64
	firstMu  sync.Mutex
	first    string
}

func newCeiling(o options, w *writer) *ceiling {
	return &ceiling{o: o, w: w,
		// Keep-alive connections to the providers, as many as calls at once.
		client: &http.Client{Timeout: o.callTimeout, Transport: &http.Transport{
			MaxIdleConns: 0, MaxIdleConnsPerHost: 4096, IdleConnTimeout: 90 * time.Second}},
		midazTx: strings.TrimRight(o.midazURL, "/") + "/v1/organizations/" + o.organizationID +
			"/ledgers/" + o.ledgerID + "/transactions/json",
	}
}

// webhookInput is the part of the reference workflow's webhook body that
// the two calls map (the template's input mappings).
type webhookInput struct {
	RequestID              string          `json:"requestId"`
	TransactionType        string          `json:"transactionType"`
	Amount                 string          `json:"amount"`
	Currency               string          `json:"currency"`
	TransactionTimestamp   string          `json:"transactionTimestamp"`
	Account                json.RawMessage `json:"account"`
	Transaction            json.RawMessage `json:"transaction"`
	TransactionDescription string          `json:"transactionDescription"`
}

// tracerRequest is Tracer's validation request as Flowker sends it (its
// keys in the order Flowker's map encoding gives them).
type tracerRequest struct {
	Account              json.RawMessage `json:"account,omitempty"`
	Amount               string          `json:"amount,omitempty"`
	Currency             string          `json:"currency,omitempty"`
	RequestID            string          `json:"requestId,omitempty"`
	TransactionTimestamp string          `json:"transactionTimestamp,omitempty"`
	TransactionType      string          `json:"transactionType,omitempty"`
}

// midazRequest is Midaz's create-transaction request as Flowker sends it.
type midazRequest struct {
	Description string          `json:"description,omitempty"`
	Send        json.RawMessage `json:"send,omitempty"`
}

func (c *ceiling) serve(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch {
	case path == "/health/ready" || path == "/health/live":
		ctx.SetBodyString(`{"status":"ok"}`)
	case ctx.IsPost() && strings.HasPrefix(path, "/v1/webhooks/"):
		c.webhook(ctx)
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}
}

// webhook accepts one execution: its input is committed before the answer.
// Async (the default) answers 201 at once and runs it in a goroutine; with
// ?wait=<duration> it answers 200 when it has finished (202 if it has not
// by then), like Flowker's synchronous mode.
func (c *ceiling) webhook(ctx *fasthttp.RequestCtx) {
	body := bytes.Clone(ctx.PostBody()) // fasthttp reuses its buffers after the handler
	var in webhookInput
	if err := json.Unmarshal(body, &in); err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(`{"code":"INVALID_INPUT","message":"the body is not a JSON object"}`)
		return
	}
	id := uuid.Must(uuid.NewV7()).String()
	if err := c.w.do(&write{kind: insertExecution, id: id, at: time.Now(), json: body}); err != nil {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString(`{"code":"UNAVAILABLE","message":"store unavailable"}`)
		return
	}
	finished := make(chan string, 1)
	c.running.Add(1)
	go func() {
		defer c.running.Done()
		finished <- c.execute(id, &in)
	}()
	ctx.SetContentType("application/json")
	wait, err := time.ParseDuration(string(ctx.QueryArgs().Peek("wait")))
	if err != nil || wait <= 0 {
		ctx.SetStatusCode(fasthttp.StatusCreated)
		fmt.Fprintf(ctx, `{"executionId":%q,"status":"running"}`, id)
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case status := <-finished:
		fmt.Fprintf(ctx, `{"executionId":%q,"status":%q}`, id, status)
	case <-t.C:
		ctx.SetStatusCode(fasthttp.StatusAccepted)
		fmt.Fprintf(ctx, `{"executionId":%q,"status":"running"}`, id)
	}
}

// execute makes the two calls, each answer committed before going on, and
// returns the final status.
func (c *ceiling) execute(id string, in *webhookInput) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*c.o.callTimeout)
	defer cancel()
	finish := func(midaz []byte, err error) string {
		status, text := "completed", ""
		if err != nil {
			status, text = "failed", err.Error()
			c.fail(id, text)
		}
		if werr := c.w.do(&write{kind: finishExecution, id: id, at: time.Now(), json: midaz, status: status, errText: text}); werr != nil {
			c.fail(id, "final write: "+werr.Error())
		}
		return status
	}

	answer, err := c.call(ctx, c.o.tracerURL+"/v1/validations", id+"/tracer-validate", true, tracerRequest{
		Account: in.Account, Amount: in.Amount, Currency: in.Currency, RequestID: in.RequestID,
		TransactionTimestamp: in.TransactionTimestamp, TransactionType: in.TransactionType})
	if err != nil {
		return finish(nil, fmt.Errorf("tracer: %w", err))
	}
	if err := c.w.do(&write{kind: saveTracer, id: id, at: time.Now(), json: answer}); err != nil {
		return finish(nil, fmt.Errorf("saving the Tracer answer: %w", err))
	}
	var decision struct {
		Decision string `json:"decision"`
	}
	if err := json.Unmarshal(answer, &decision); err != nil {
		return finish(nil, fmt.Errorf("tracer: %w", err))
	}
	if decision.Decision != "ALLOW" { // the template's condition: no ledger call
		return finish(nil, nil)
	}
	answer, err = c.call(ctx, c.midazTx, id+"/midaz-create-tx", false, midazRequest{
		Description: in.TransactionDescription, Send: in.Transaction})
	if err != nil {
		return finish(nil, fmt.Errorf("midaz: %w", err))
	}
	return finish(answer, nil)
}

// call POSTs body as JSON with Flowker's headers and returns the answer,
// which must be a 2xx with a JSON body.
func (c *ceiling) call(ctx context.Context, url, idempotencyKey string, tracer bool, body any) ([]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idempotencyKey)
	if tracer {
		req.Header.Set("X-Api-Key", c.o.tracerKey)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("status %d: %.200s", resp.StatusCode, answer)
	}
	if !json.Valid(answer) {
		return nil, fmt.Errorf("status %d: the answer is not JSON: %.200s", resp.StatusCode, answer)
	}
	return answer, nil
}

func (c *ceiling) fail(id, text string) {
	if c.failures.Add(1) == 1 {
		c.firstMu.Lock()
		c.first = id + ": " + text
		c.firstMu.Unlock()
	}
}

func (c *ceiling) firstFailure() string {
	c.firstMu.Lock()
	defer c.firstMu.Unlock()
	return c.first
}

// wait returns when every execution started has finished, or ctx ends.
func (c *ceiling) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		c.running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
