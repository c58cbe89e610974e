package httpapi

import (
	"errors"
	"sort"
	"time"
	_ "time/tzdata" // time zones resolve alike on every host, a minimal container image included

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"flowker/internal/flow"
)

func (a *api) dashboardRoutes(r fiber.Router) {
	r.Get("/dashboards/workflows/summary", a.workflowSummary)
	r.Get("/dashboards/executions", a.executionSummary)
	r.Get("/dashboards/executions/series", a.executionSeries)
}

// codeDashboardParam is the reference's code for every bad parameter of the
// execution dashboards.
const codeDashboardParam = "FLK-0302"

// dashboardParam gives a parameter error of the shared parsers the
// dashboards' code; the message, naming the parameter, is kept.
func dashboardParam(err error) error {
	var fe *flow.Error
	if errors.As(err, &fe) && fe.Kind == flow.KindInvalid {
		return flow.Invalidf(codeDashboardParam, "%s", fe.Message)
	}
	return err
}

func (a *api) workflowSummary(c *fiber.Ctx) error {
	counts, err := a.svc.WorkflowSummary(c.UserContext())
	if err != nil {
		return err
	}
	var total int64
	byStatus := []fiber.Map{}
	for _, s := range []flow.WorkflowStatus{flow.StatusDraft, flow.StatusActive, flow.StatusInactive} {
		if n := counts[s]; n > 0 {
			total += n
			byStatus = append(byStatus, fiber.Map{"status": s, "count": n})
		}
	}
	return c.JSON(fiber.Map{"total": total, "active": counts[flow.StatusActive], "byStatus": byStatus})
}

func (a *api) executionSummary(c *fiber.Ctx) error {
	from, to, err := parseTimeRange(c, "startTime", "endTime")
	if err != nil {
		return dashboardParam(err)
	}
	status := flow.ExecutionStatus(c.Query("status"))
	if status != "" && !status.Valid() {
		return flow.Invalidf(codeDashboardParam, "invalid status, must be one of: pending, running, waiting, completed, failed, cancelled")
	}
	counts, err := a.svc.ExecutionSummary(c.UserContext(), from, to, status)
	if err != nil {
		return err
	}
	body := fiber.Map{}
	var total int64
	for _, s := range []flow.ExecutionStatus{flow.ExecCompleted, flow.ExecFailed, flow.ExecPending, flow.ExecRunning, flow.ExecCancelled,
		flow.ExecWaiting} {
		body[string(s)] = counts[s]
		total += counts[s]
	}
	body["total"] = total
	return c.JSON(body)
}

// maxSeriesBuckets bounds a series' length (and the work of building it).
const maxSeriesBuckets = 1000

// seriesQuery is a parsed GET /v1/dashboards/executions/series.
type seriesQuery struct {
	from, to   time.Time
	interval   string // hour or day
	zone       *time.Location
	workflowID *uuid.UUID
}

func parseSeriesQuery(c *fiber.Ctx) (q seriesQuery, err error) {
	from, to, err := parseTimeRange(c, "startTime", "endTime")
	switch {
	case err != nil:
		return q, err
	case from == nil:
		return q, flow.Invalidf(codeDashboardParam, "startTime is required (RFC 3339)")
	case to == nil:
		return q, flow.Invalidf(codeDashboardParam, "endTime is required (RFC 3339)")
	case !from.Before(*to):
		return q, flow.Invalidf(codeDashboardParam, "startTime must be before endTime")
	}
	q.from, q.to = from.UTC(), to.UTC()
	q.interval = c.Query("interval", "day")
	if q.interval != "hour" && q.interval != "day" {
		return q, flow.Invalidf(codeDashboardParam, "invalid interval: must be hour or day")
	}
	name := c.Query("timezone", "UTC")
	if q.zone, err = time.LoadLocation(name); err != nil || name == "Local" { // Local is the server's, not a name
		return q, flow.Invalidf(codeDashboardParam, "invalid timezone: expected an IANA time zone name such as Europe/Lisbon")
	}
	q.workflowID, err = parseQueryID(c, "workflowId")
	return q, err
}

type seriesBucket struct {
	Start    time.Time                      `json:"start"`
	End      time.Time                      `json:"end"`
	Total    int64                          `json:"total"`
	ByStatus map[flow.ExecutionStatus]int64 `json:"byStatus"`
}

// executionSeries counts executions started in [startTime, endTime) by the
// local hours or days of a time zone, every bucket present. The store counts
// by 15-minute UTC slot; the slots fold here into the zone's buckets.
func (a *api) executionSeries(c *fiber.Ctx) error {
	q, err := parseSeriesQuery(c)
	if err != nil {
		return dashboardParam(err)
	}
	bounds := seriesBounds(q.from, q.to, q.interval, q.zone)
	if len(bounds) > maxSeriesBuckets+1 {
		hint := ""
		if q.interval == "hour" {
			hint = ", or use interval=day"
		}
		return flow.Invalidf(codeDashboardParam, "startTime to endTime spans more than %d %ss, the most a series "+
			"holds: narrow the range%s", maxSeriesBuckets, q.interval, hint)
	}
	slots, err := a.svc.ExecutionSlots(c.UserContext(), q.from, q.to, q.workflowID)
	if err != nil {
		return err
	}
	buckets := make([]seriesBucket, len(bounds)-1)
	for i := range buckets {
		buckets[i] = seriesBucket{Start: bounds[i], End: bounds[i+1], ByStatus: map[flow.ExecutionStatus]int64{}}
	}
	for _, s := range slots {
		// The last bucket starting at or before the slot: bounds lie on slot
		// boundaries, so a slot never straddles two buckets.
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i].After(s.Start) }) - 1
		if i >= 0 && i < len(buckets) {
			buckets[i].Total += s.Count
			buckets[i].ByStatus[s.Status] += s.Count
		}
	}
	return c.JSON(fiber.Map{"interval": q.interval, "timezone": q.zone.String(), "startTime": q.from,
		"endTime": q.to, "buckets": buckets})
}

// seriesBounds returns the UTC bounds of the zone's local hours or days
// that overlap [from, to): n+1 instants for n buckets, at most
// maxSeriesBuckets+2 (more means too many). A bucket is a run of slots with
// the same local day (or hour and offset, so a repeated hour when clocks go
// back is two buckets), so a 23- or 25-hour day, or a +05:30 zone's hours,
// need no special case.
func seriesBounds(from, to time.Time, interval string, zone *time.Location) []time.Time {
	label := func(t time.Time) [4]int {
		l := t.In(zone)
		if interval == "day" {
			return [4]int{l.Year(), l.YearDay()}
		}
		_, offset := l.Zone()
		return [4]int{l.Year(), l.YearDay(), l.Hour(), offset}
	}
	start := from.Truncate(flow.SlotWidth)
	for cur := label(start); label(start.Add(-flow.SlotWidth)) == cur; {
		start = start.Add(-flow.SlotWidth)
	}
	bounds := []time.Time{start}
	cur := label(start)
	for t := start.Add(flow.SlotWidth); len(bounds) <= maxSeriesBuckets+1; t = t.Add(flow.SlotWidth) {
		if l := label(t); l != cur {
			bounds, cur = append(bounds, t), l
			if !t.Before(to) {
				break
			}
		}
	}
	// A bucket of 9999's last local day or hour would end in year 10000,
	// no RFC 3339 time: the last one ends where time the API takes ends.
	if last := len(bounds) - 1; bounds[last].After(flow.MaxInstant) {
		bounds[last] = flow.MaxInstant
	}
	return bounds
}
