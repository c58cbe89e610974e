// Package audit defines the tamper-evident trail: events, who caused them
// (carried in the request context), and the keyed hash chain that links
// each event to the one before. Stores append events inside the
// transaction of the change they record; a Verifier recomputes every hash.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
)

// Actor is who caused a change.
type Actor struct {
	Type string `json:"type"` // "api_key", "user" (a token subject) or "system"
	ID   string `json:"id"`
	IP   string `json:"ipAddress"`
}

// System is the actor of changes no request caused (the engine's own).
// No client: its address is the unspecified one, as the reference's actor
// (clients that read ipAddress as an IP find one).
var System = Actor{Type: "system", ID: "flowker", IP: "0.0.0.0"}

// Request is what the HTTP layer knows of the caller.
type Request struct {
	Actor     Actor
	RequestID string
}

type requestKey struct{}

// WithRequest attaches the caller to ctx (set by the HTTP layer).
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// FromContext returns the caller, or the system actor.
func FromContext(ctx context.Context) Request {
	if r, ok := ctx.Value(requestKey{}).(Request); ok {
		return r
	}
	return Request{Actor: System}
}

// Event is one audit record.
type Event struct {
	Seq          int64     // insertion order; the chain order
	ID           uuid.UUID // eventId
	Timestamp    time.Time
	EventType    string // e.g. WORKFLOW_CREATED
	Action       string // CREATE, UPDATE, DELETE, ACTIVATE, DEACTIVATE, DRAFT, EXECUTE, ENABLE, DISABLE, TEST, CANCEL, RETRY
	Result       string // SUCCESS or FAILED
	ResourceType string // workflow, execution, provider_config, executor_config
	ResourceID   string
	Actor        Actor
	RequestID    string
	TraceID      string
	Metadata     map[string]any
	PreviousHash string // "" for the first event
	Hash         string
}

// NewEvent builds an event caused by the caller in ctx (the system actor
// when ctx carries no request), with the trace id of ctx's span.
func NewEvent(ctx context.Context, id uuid.UUID, at time.Time, eventType, action, result, resourceType,
	resourceID string, meta map[string]any) *Event {
	req := FromContext(ctx)
	e := &Event{ID: id, Timestamp: at, EventType: eventType, Action: action, Result: result,
		ResourceType: resourceType, ResourceID: resourceID, Actor: req.Actor, RequestID: req.RequestID,
		Metadata: meta}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		e.TraceID = sc.TraceID().String()
	}
	return e
}

// Genesis stands for the previous hash of the first event.
const Genesis = "GENESIS"

// timeLayout renders timestamps in the chain: UTC, microseconds, fixed width.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// Key seals the chain: each hash is HMAC-SHA256, under a key derived from
// the deployment's secret key, over the previous hash and the event. Whoever
// holds the database but not the key cannot recompute a hash, so a changed,
// removed, inserted or reordered event is found even when every later hash
// was rewritten (docs/decisions.md, "Audit trail"). The zero Key seals
// nothing: a store refuses to append with it.
type Key struct{ mac []byte }

// keyPurpose binds the derived key to the audit chain, apart from every
// other key derived from the secret key.
const keyPurpose = "flowker/audit-chain/v1"

// NewKey derives the chain's key from the deployment's secret key.
func NewKey(secretKey []byte) Key {
	m := hmac.New(sha256.New, secretKey)
	m.Write([]byte(keyPurpose))
	return Key{mac: m.Sum(nil)}
}

// IsZero reports whether k was never derived.
func (k Key) IsZero() bool { return k.mac == nil }

// Hash is e's keyed hash: hex HMAC-SHA256 over the previous hash and every
// field, '|'-separated with each field length-prefixed (so no value can
// forge a boundary) and metadata as canonical JSON (Go sorts map keys).
func (k Key) Hash(e *Event) string { return k.hashWith(e, EncodeMetadata(e.Metadata)) }

// LegacyHash is the unkeyed SHA-256 of the same text, which sealed events
// recorded before the chain was keyed (before its KeyedEventType event).
func LegacyHash(e *Event) string {
	sum := sha256.Sum256(chainText(e, EncodeMetadata(e.Metadata)))
	return hex.EncodeToString(sum[:])
}

// EncodeMetadata is metadata's canonical JSON, as hashed and as stored: no
// metadata is stored as {}, so it hashes as {}.
func EncodeMetadata(m map[string]any) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m) // JSON-decoded values always marshal
	return string(b)
}

// hashWith is e's keyed hash, meta being its metadata's canonical JSON.
func (k Key) hashWith(e *Event, meta string) string {
	m := hmac.New(sha256.New, k.mac)
	m.Write(chainText(e, meta))
	return hex.EncodeToString(m.Sum(nil))
}

// chainText is what a hash covers: the previous hash (Genesis for none)
// and every field, each length-prefixed and '|'-terminated.
func chainText(e *Event, meta string) []byte {
	prev := e.PreviousHash
	if prev == "" {
		prev = Genesis
	}
	return appendFields(make([]byte, 0, 512), prev, e.ID.String(), e.Timestamp.UTC().Format(timeLayout),
		e.EventType, e.Action, e.Result, e.ResourceType, e.ResourceID, e.Actor.Type, e.Actor.ID,
		e.Actor.IP, e.RequestID, e.TraceID, meta)
}

// appendFields appends each field length-prefixed and '|'-terminated.
func appendFields(b []byte, fields ...string) []byte {
	for _, f := range fields {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, '|')
	}
	return b
}

// Seal links e after prev (the hash of the last event, "" for none).
func (k Key) Seal(e *Event, prev string) { k.SealEncoded(e, prev, EncodeMetadata(e.Metadata)) }

// SealEncoded is Seal for a store that has already encoded e's metadata
// with EncodeMetadata (to check and store it): it is not encoded again.
func (k Key) SealEncoded(e *Event, prev, meta string) {
	e.PreviousHash = prev
	e.Timestamp = e.Timestamp.UTC().Truncate(time.Microsecond)
	e.Hash = k.hashWith(e, meta)
}

// KeyedEventType marks where a chain begun before this version became
// keyed: the first event of that type and every later one are sealed with
// the Key, the events before it with LegacyHash. Its own hash covers the
// last unkeyed event's, so the unkeyed prefix cannot change unnoticed. A
// chain without one is keyed from its first event: removing the marker
// makes every unkeyed event fail.
const KeyedEventType = "AUDIT_CHAIN_KEYED"

// Verification is the outcome of checking a run of the chain.
type Verification struct {
	Valid        bool
	Checked      int
	FirstInvalid *Event // the first event whose link or hash is wrong
	Reason       string
}

// Verifier checks events in chain order, one at a time, so a chain of any
// length is verified in constant memory.
type Verifier struct {
	key       Key
	keyedFrom int64
	prev      string
	result    Verification
}

// FirstSeq is the chain's first sequence: the stores number events from
// 1, and a row below it (which their triggers, refusing only updates and
// deletes, let an INSERT add) is no event of the chain.
const FirstSeq = 1

// NewVerifier starts at prev: "" for the genesis, else the hash of the
// event just before the first one to check. Events from sequence keyedFrom
// on (the first KeyedEventType event's; 0 for none) must carry k's hash,
// those before it the legacy one.
func NewVerifier(k Key, keyedFrom int64, prev string) *Verifier {
	return &Verifier{key: k, keyedFrom: keyedFrom, prev: prev, result: Verification{Valid: true}}
}

// Check verifies the next event; it returns false once the chain is broken.
func (v *Verifier) Check(e *Event) bool {
	if !v.result.Valid {
		return false
	}
	v.result.Checked++
	want := LegacyHash
	if e.Seq >= v.keyedFrom {
		want = v.key.Hash
	}
	switch {
	case v.key.IsZero():
		v.fail(e, "the chain's key is not set")
	case e.Seq < FirstSeq:
		v.fail(e, "sequence below the chain's first: the event was not recorded by Flowker")
	case e.PreviousHash != v.prev:
		v.fail(e, "chain break: previousHash does not match the hash of the event before it")
	case want(e) != e.Hash:
		v.fail(e, "hash mismatch: the event was changed after it was recorded, or not recorded by Flowker")
	default:
		v.prev = e.Hash
	}
	return v.result.Valid
}

func (v *Verifier) fail(e *Event, reason string) {
	c := *e
	v.result.Valid, v.result.FirstInvalid, v.result.Reason = false, &c, reason
}

// Result is the verification so far.
func (v *Verifier) Result() Verification { return v.result }

// Filter selects audit events for a list; AfterSeq is the cursor.
type Filter struct {
	EventType, Action, Result, ResourceType, ResourceID string
	From, To                                            *time.Time
	Ascending                                           bool
	AfterSeq                                            int64
	Limit                                               int
}
