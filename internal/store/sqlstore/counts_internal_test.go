package sqlstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEdgeSlotsCountedFromTheirShorterPast: an edge slot is counted from
// the executions on the side of the range's bound that holds less of the
// slot's past (time before now), the whole slot taken from the rollups when
// that side is outside the range. A range ending now subtracts the empty
// rest of the current slot, however far into it now is; in the past the
// bound's place in its slot decides; in the future (nothing started yet)
// the part inside the range is read. Both sides count the same executions
// (storetest's CountRollups checks the counts); this pins the cost.
func TestEdgeSlotsCountedFromTheirShorterPast(t *testing.T) {
	slot := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) // a slot's start
	at := func(base time.Time, d string) *time.Time {
		dur, err := time.ParseDuration(d)
		require.NoError(t, err)
		v := base.Add(dur)
		return &v
	}
	for _, c := range []struct {
		name      string
		from, to  *time.Time
		now       time.Time
		raw, sub  []span
		wholeFrom *time.Time // the first slot counted whole
		wholeTo   *time.Time // the end of the last one
	}{{
		name: "last 24 h, now 3 minutes into its slot",
		from: at(slot, "-23h57m"), to: at(slot, "3m"), now: *at(slot, "3m"),
		sub:       []span{{at(slot, "-24h"), at(slot, "-23h57m")}, {at(slot, "3m"), at(slot, "15m")}},
		wholeFrom: at(slot, "-24h"), wholeTo: at(slot, "15m"),
	}, {
		name: "last 24 h, now 12 minutes into its slot",
		from: at(slot, "-23h48m"), to: at(slot, "12m"), now: *at(slot, "12m"),
		raw:       []span{{at(slot, "-23h48m"), at(slot, "-23h45m")}},
		sub:       []span{{at(slot, "12m"), at(slot, "15m")}},
		wholeFrom: at(slot, "-23h45m"), wholeTo: at(slot, "15m"),
	}, {
		name: "a past range, bounds 5 and 10 minutes into their slots",
		from: at(slot, "-47h55m"), to: at(slot, "-23h50m"), now: *at(slot, "3m"),
		sub:       []span{{at(slot, "-48h"), at(slot, "-47h55m")}, {at(slot, "-23h50m"), at(slot, "-23h45m")}},
		wholeFrom: at(slot, "-48h"), wholeTo: at(slot, "-23h45m"),
	}, {
		name: "a past range, bounds 10 and 5 minutes into their slots",
		from: at(slot, "-47h50m"), to: at(slot, "-23h55m"), now: *at(slot, "3m"),
		raw:       []span{{at(slot, "-47h50m"), at(slot, "-47h45m")}, {at(slot, "-24h"), at(slot, "-23h55m")}},
		wholeFrom: at(slot, "-47h45m"), wholeTo: at(slot, "-24h"),
	}, {
		name: "a future range",
		from: at(slot, "1h1m"), to: at(slot, "2h14m"), now: *at(slot, "3m"),
		raw:       []span{{at(slot, "1h1m"), at(slot, "1h15m")}, {at(slot, "2h"), at(slot, "2h14m")}},
		wholeFrom: at(slot, "1h15m"), wholeTo: at(slot, "2h"),
	}} {
		t.Run(c.name, func(t *testing.T) {
			p := splitRange(c.from, c.to, true, c.now)
			require.Equal(t, c.raw, p.raw, "added")
			require.Equal(t, c.sub, p.sub, "subtracted")
			require.Equal(t, &span{c.wholeFrom, c.wholeTo}, p.changes, "changes read over the whole slots")
			first, last := p.slots[0], p.slots[len(p.slots)-1]
			if p.days != nil && p.days.from.Before(*first.from) {
				first = *p.days
			}
			if p.days != nil && last.to.Before(*p.days.to) {
				last = *p.days
			}
			require.Equal(t, *c.wholeFrom, *first.from, "rollups from")
			require.Equal(t, *c.wholeTo, *last.to, "rollups to")
		})
	}
}
