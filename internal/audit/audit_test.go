package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
)

var key = audit.NewKey([]byte("audit_test"))

func chain(n int) []audit.Event {
	events := make([]audit.Event, n)
	prev := ""
	for i := range events {
		e := event(i)
		key.Seal(&e, prev)
		prev = e.Hash
		events[i] = e
	}
	return events
}

func event(i int) audit.Event {
	return audit.Event{Seq: int64(i + 1), ID: uuid.New(), Timestamp: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC),
		EventType: "WORKFLOW_UPDATED", Action: "UPDATE", Result: "SUCCESS", ResourceType: "workflow",
		ResourceID: uuid.NewString(), Actor: audit.Actor{Type: "api_key", ID: "ci", IP: "10.0.0.1"},
		Metadata: map[string]any{"workflow.name": "wf", "n": float64(i)}}
}

func verify(events []audit.Event) audit.Verification { return verifyFrom(0, events) }

func verifyFrom(keyedFrom int64, events []audit.Event) audit.Verification {
	v := audit.NewVerifier(key, keyedFrom, "")
	for i := range events {
		if !v.Check(&events[i]) {
			break
		}
	}
	return v.Result()
}

func TestVerifyHonestChain(t *testing.T) {
	t.Parallel()
	events := chain(5)
	require.Empty(t, events[0].PreviousHash, "the first event has no previous hash")
	res := verify(events)
	require.True(t, res.Valid)
	require.Equal(t, 5, res.Checked)
}

func TestVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	cases := map[string]func(e []audit.Event){
		"content changed":     func(e []audit.Event) { e[2].Metadata["workflow.name"] = "other" },
		"actor changed":       func(e []audit.Event) { e[2].Actor.ID = "someone-else" },
		"event removed":       func(e []audit.Event) { copy(e[2:], e[3:]) },
		"timestamp backdated": func(e []audit.Event) { e[2].Timestamp = e[2].Timestamp.Add(-time.Hour) },
		"separator forgery":   func(e []audit.Event) { e[2].EventType, e[2].Action = "WORKFLOW_UPDATED|UPDATE", "" },
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			events := chain(5)
			tamper(events)
			res := verify(events)
			require.False(t, res.Valid)
			require.Equal(t, events[2].ID, res.FirstInvalid.ID, res.Reason)
			require.Equal(t, 3, res.Checked)
		})
	}
}

// TestVerifyRehashedEvent: an attacker who also rewrites the changed
// event's hash with its own key breaks the link to the next event, which
// is reported.
func TestVerifyRehashedEvent(t *testing.T) {
	t.Parallel()
	events := chain(5)
	events[2].ResourceID = "x"
	events[2].Hash = key.Hash(&events[2])
	res := verify(events)
	require.False(t, res.Valid)
	require.Equal(t, events[3].ID, res.FirstInvalid.ID)
	require.Contains(t, res.Reason, "chain break")
}

// TestVerifyChainRewrittenWithoutTheKey: whoever holds the database but
// not the key changes an event and rewrites its hash and every later one,
// unkeyed or under a key of their own, so every link holds: the changed
// event is reported, since its hash is not the key's.
func TestVerifyChainRewrittenWithoutTheKey(t *testing.T) {
	t.Parallel()
	for name, seal := range map[string]func(*audit.Event, string){
		"unkeyed":   func(e *audit.Event, prev string) { e.PreviousHash = prev; e.Hash = audit.LegacyHash(e) },
		"other key": audit.NewKey([]byte("someone else's")).Seal,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			events := chain(5)
			events[2].Metadata["decision"] = "APPROVED"
			for i := 2; i < len(events); i++ {
				seal(&events[i], events[i-1].Hash)
			}
			res := verify(events)
			require.False(t, res.Valid)
			require.Equal(t, events[2].ID, res.FirstInvalid.ID, res.Reason)
			require.Contains(t, res.Reason, "hash mismatch")
		})
	}
}

// legacyChain is n events sealed unkeyed, as before the chain was keyed,
// then the marker and two keyed events.
func legacyChain(n int) []audit.Event {
	var events []audit.Event
	prev := ""
	for i := range n + 3 {
		e := event(i)
		switch {
		case i < n:
			e.PreviousHash = prev
			e.Timestamp = e.Timestamp.UTC()
			e.Hash = audit.LegacyHash(&e)
		case i == n:
			e.EventType = audit.KeyedEventType
			fallthrough
		default:
			key.Seal(&e, prev)
		}
		prev = e.Hash
		events = append(events, e)
	}
	return events
}

// TestVerifyKeyedFromTheMarker: events before the first KeyedEventType
// event verify unkeyed, it and the later ones keyed; removing the marker,
// moving the boundary, or rewriting the unkeyed prefix is found.
func TestVerifyKeyedFromTheMarker(t *testing.T) {
	t.Parallel()
	events := legacyChain(3)
	res := verifyFrom(4, events)
	require.True(t, res.Valid, res.Reason)
	require.Equal(t, 6, res.Checked)

	res = verifyFrom(0, events) // the marker removed: the chain is keyed throughout
	require.False(t, res.Valid)
	require.Equal(t, events[0].ID, res.FirstInvalid.ID)

	res = verifyFrom(6, events) // a later boundary: the marker itself must be keyed
	require.False(t, res.Valid)
	require.Equal(t, events[3].ID, res.FirstInvalid.ID)

	events[1].ResourceID = "x" // the unkeyed prefix rewritten, every hash after it too
	for i := 1; i < 3; i++ {
		events[i].PreviousHash = events[i-1].Hash
		events[i].Hash = audit.LegacyHash(&events[i])
	}
	events[3].PreviousHash = events[2].Hash
	res = verifyFrom(4, events)
	require.False(t, res.Valid)
	require.Equal(t, events[3].ID, res.FirstInvalid.ID, "the marker's keyed hash covers the prefix")
}

func TestActorFromContext(t *testing.T) {
	t.Parallel()
	require.Equal(t, audit.System, audit.FromContext(context.Background()).Actor)
	ctx := audit.WithRequest(context.Background(), audit.Request{Actor: audit.Actor{Type: "user", ID: "alice"}, RequestID: "r1"})
	require.Equal(t, "alice", audit.FromContext(ctx).Actor.ID)
}

// TestHashFormatIsStable: chains stored by earlier versions must still
// verify, so the hash of a fixed event never changes: the unkeyed hash's
// values were computed by the implementation before metadata was encoded
// once, the keyed ones by an independent HMAC-SHA256 (Python's hmac) over
// the same text, under the key derived from 32 zero bytes.
func TestHashFormatIsStable(t *testing.T) {
	e := &audit.Event{ID: uuid.MustParse("0b5c3a52-3f0e-4d3c-9a53-3c2f6a1e7d10"),
		Timestamp: time.Date(2026, 12, 3, 23, 59, 1, 123456789, time.UTC),
		EventType: "EXECUTION_STARTED", Action: "EXECUTE", Result: "SUCCESS", ResourceType: "execution", ResourceID: "r-1",
		Actor: audit.Actor{Type: "user", ID: "ana", IP: "127.0.0.1"}, RequestID: "req-1", TraceID: "tr",
		Metadata: map[string]any{"b": 1.5, "a": "<x>&é", "n": nil, "l": []any{true, "s"}}}
	e.PreviousHash = "prevhash"
	require.Equal(t, "61d5c4054f2cd34e647d3fc68f3abff966a87a0937325507ab5c9abbf65ff5ff", audit.LegacyHash(e))
	bare := *e
	bare.Metadata, bare.PreviousHash = nil, ""
	require.Equal(t, "713a6bf87dc0b2c7bccc7d119641e6f933b7a3341bd8373d03d7d83425cdcb55", audit.LegacyHash(&bare))

	k := audit.NewKey(make([]byte, 32))
	k.Seal(e, "prevhash")
	require.Equal(t, "89ca0246c19216d4c3281a933e08c921bcaa90beb0d8003a6a9f31f72d708cc9", e.Hash)
	k.SealEncoded(&bare, "", "{}")
	require.Equal(t, "84cd3127fa7a859ad98699e779152bea53281d06aa698ebf8d83670cbb1bc096", bare.Hash)
	k.Seal(&bare, "")
	require.Equal(t, "84cd3127fa7a859ad98699e779152bea53281d06aa698ebf8d83670cbb1bc096", bare.Hash)
}
