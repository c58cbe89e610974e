package flow

import "github.com/google/uuid"

// NewID makes the id of every row Flowker inserts: a time-ordered v7, so
// inserts land at the end of the primary and unique indexes instead of on a
// random page of a table years deep, with a v4's randomness in the low
// bits. It falls back to a v4 if the clock source fails.
func NewID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}
