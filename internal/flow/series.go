package flow

import "time"

// SlotWidth is the width of the UTC slots executions are counted in for a
// series over time (GET /v1/dashboards/executions/series). Every UTC offset
// in use is a multiple of it, so slots fold exactly into local hours and
// days of any time zone; the database need not know about zones.
const SlotWidth = 15 * time.Minute

// SlotCount is how many executions of one status started in one slot.
type SlotCount struct {
	Start  time.Time // the slot's first instant, UTC, a multiple of SlotWidth since the Unix epoch
	Status ExecutionStatus
	Count  int64
}
