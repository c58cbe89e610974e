package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"flowker/internal/service"
	"flowker/internal/store"
	"flowker/internal/store/faultstore" //nolint:depguard // a results read that fails
)

// endsWithoutReadBack is an engine whose run ends here at once and tells
// its waiters as engine.finished does when the terminal write read nothing
// back: one nil sent, then the channel closed.
type endsWithoutReadBack struct{ acceptAll }

func (endsWithoutReadBack) Wait(uuid.UUID) (<-chan *store.ExecutionResults, func()) {
	ch := make(chan *store.ExecutionResults, 1)
	ch <- nil
	close(ch)
	return ch, func() {}
}

// TestWaitDoesNotSpinOnFailingResultsRead: a synchronous start
// whose execution ended here (done fired, nil: read the results) while the
// results read keeps failing (the database down) must read again at the
// next poll (every 200 ms), not in a tight loop on the closed done channel.
func TestWaitDoesNotSpinOnFailingResultsRead(t *testing.T) {
	ctx := context.Background()
	raw := openSQLite(t)
	st := faultstore.Wrap(raw)
	s := newTestService(t, st, service.WithDispatcher(endsWithoutReadBack{}))
	req, _ := startReplayable(ctx, t, s)
	req.IdempotencyKey = "another"
	st.Fail("ExecutionWithSteps", faultstore.Always, store.Unavailable(errors.New("connection refused")))

	const wait = time.Second
	req.Wait = wait
	_, err := s.StartExecution(ctx, req)
	require.NoError(t, err)
	// One read when done fired, then about one per poll (200 ms).
	require.LessOrEqual(t, st.Calls("ExecutionWithSteps"), int(wait/(200*time.Millisecond))+2,
		"results read in a tight loop (closed done channel read again and again)")
}
