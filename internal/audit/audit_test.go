package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/audit"
)

func chain(n int) []audit.Event {
	events := make([]audit.Event, n)
	prev := ""
	for i := range events {
		e := audit.Event{ID: uuid.New(), Timestamp: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC),
			EventType: "WORKFLOW_UPDATED", Action: "UPDATE", Result: "SUCCESS", ResourceType: "workflow",
			ResourceID: uuid.NewString(), Actor: audit.Actor{Type: "api_key", ID: "ci", IP: "10.0.0.1"},
			Metadata: map[string]any{"workflow.name": "wf", "n": float64(i)}}
		audit.Seal(&e, prev)
		prev = e.Hash
		events[i] = e
	}
	return events
}

func verify(events []audit.Event) audit.Verification {
	v := audit.NewVerifier("")
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
// event's hash breaks the link to the next event, which is reported.
func TestVerifyRehashedEvent(t *testing.T) {
	t.Parallel()
	events := chain(5)
	events[2].ResourceID = "x"
	events[2].Hash = audit.ComputeHash(&events[2])
	res := verify(events)
	require.False(t, res.Valid)
	require.Equal(t, events[3].ID, res.FirstInvalid.ID)
	require.Contains(t, res.Reason, "chain break")
}

func TestActorFromContext(t *testing.T) {
	t.Parallel()
	require.Equal(t, audit.System, audit.FromContext(context.Background()).Actor)
	ctx := audit.WithRequest(context.Background(), audit.Request{Actor: audit.Actor{Type: "user", ID: "alice"}, RequestID: "r1"})
	require.Equal(t, "alice", audit.FromContext(ctx).Actor.ID)
}

// TestHashFormatIsStable: chains stored by earlier versions must still
// verify, so the hash of a fixed event never changes (these values were
// computed by the implementation before metadata was encoded once).
func TestHashFormatIsStable(t *testing.T) {
	e := &audit.Event{ID: uuid.MustParse("0b5c3a52-3f0e-4d3c-9a53-3c2f6a1e7d10"),
		Timestamp: time.Date(2026, 12, 3, 23, 59, 1, 123456789, time.UTC),
		EventType: "EXECUTION_STARTED", Action: "EXECUTE", Result: "SUCCESS", ResourceType: "execution", ResourceID: "r-1",
		Actor: audit.Actor{Type: "user", ID: "ana", IP: "127.0.0.1"}, RequestID: "req-1", TraceID: "tr",
		Metadata: map[string]any{"b": 1.5, "a": "<x>&é", "n": nil, "l": []any{true, "s"}}}
	audit.Seal(e, "prevhash")
	require.Equal(t, "61d5c4054f2cd34e647d3fc68f3abff966a87a0937325507ab5c9abbf65ff5ff", e.Hash)
	bare := *e
	bare.Metadata = nil
	audit.Seal(&bare, "")
	require.Equal(t, "713a6bf87dc0b2c7bccc7d119641e6f933b7a3341bd8373d03d7d83425cdcb55", bare.Hash)
	audit.SealEncoded(&bare, "", "{}")
	require.Equal(t, "713a6bf87dc0b2c7bccc7d119641e6f933b7a3341bd8373d03d7d83425cdcb55", bare.Hash)
}
