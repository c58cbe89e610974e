package sqlstore

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/flow"
)

// TestEdgeSlotsCountedWholeWhenTheRestIsShort: an edge slot is counted
// from the executions inside the range's bound, unless the part of the
// slot outside it holds at most a second of past (time before now), and
// less than the inside: then the whole slot comes from the rollups and
// that part is subtracted. A range ending now, or half a second before it
// (as a request reaches the server), subtracts the empty rest of the
// current slot however far into it now is; one ending 40 s before now
// counts the inside (a burst that just ended is in the last seconds); in
// the future (nothing started yet) the inside is read. Both sides count
// the same executions (storetest's CountRollups checks the counts); this
// pins the cost.
func TestEdgeSlotsCountedWholeWhenTheRestIsShort(t *testing.T) {
	slot := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) // a slot's start
	at := func(d string) *time.Time {
		dur, err := time.ParseDuration(d)
		require.NoError(t, err)
		v := slot.Add(dur)
		return &v
	}
	for _, c := range []struct {
		name               string
		from, to, now      *time.Time
		raw, sub           []span
		wholeFrom, wholeTo *time.Time // the whole slots counted from the rollups
	}{{
		name: "last 24 h, now 3 minutes into its slot",
		from: at("-23h57m"), to: at("3m"), now: at("3m"),
		raw:       []span{{at("-23h57m"), at("-23h45m")}},
		sub:       []span{{at("3m"), at("15m")}},
		wholeFrom: at("-23h45m"), wholeTo: at("15m"),
	}, {
		name: "last 24 h to half a second ago, 12 minutes into the slot",
		from: at("-23h48m"), to: at("12m"), now: at("12m0.5s"),
		raw:       []span{{at("-23h48m"), at("-23h45m")}},
		sub:       []span{{at("12m"), at("15m")}},
		wholeFrom: at("-23h45m"), wholeTo: at("15m"),
	}, {
		name: "to 40 s ago, 10 minutes into the slot",
		from: at("-23h50m"), to: at("10m"), now: at("10m40s"),
		raw:       []span{{at("-23h50m"), at("-23h45m")}, {at("0s"), at("10m")}},
		wholeFrom: at("-23h45m"), wholeTo: at("0s"),
	}, {
		name: "a past range, bounds half a second from their slots' edges",
		from: at("-47h59m59.5s"), to: at("-23h45m0.5s"), now: at("3m"),
		sub:       []span{{at("-48h"), at("-47h59m59.5s")}, {at("-23h45m0.5s"), at("-23h45m")}},
		wholeFrom: at("-48h"), wholeTo: at("-23h45m"),
	}, {
		name: "a past range, bounds 5 and 10 minutes into their slots",
		from: at("-47h55m"), to: at("-23h50m"), now: at("3m"),
		raw:       []span{{at("-47h55m"), at("-47h45m")}, {at("-24h"), at("-23h50m")}},
		wholeFrom: at("-47h45m"), wholeTo: at("-24h"),
	}, {
		name: "a future range",
		from: at("1h1m"), to: at("2h14m"), now: at("3m"),
		raw:       []span{{at("1h1m"), at("1h15m")}, {at("2h"), at("2h14m")}},
		wholeFrom: at("1h15m"), wholeTo: at("2h"),
	}} {
		t.Run(c.name, func(t *testing.T) {
			p := splitRange(c.from, c.to, true, *c.now)
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

// TestSplitRangeCountsEachStartOnce: for random ranges (nil bounds, bounds
// on and next to slot and day edges, before 1970, around now, in the
// future) and random now, every start time is counted exactly once when
// inside [from, to) and not at all otherwise: rollups (days and slots) +
// raw − sub; and the rollups cover exactly what the changes span covers,
// so the count is the same folded or not. Rollup spans are whole units;
// raw and sub spans lie inside one slot (a series gives them one slot).
func TestSplitRangeCountsEachStartOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bases := []time.Time{
		time.Date(2026, 12, 4, 10, 7, 13, 0, time.UTC),
		time.Unix(0, 0).UTC(),
		time.Date(1969, 12, 31, 23, 52, 0, 0, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
	}
	offsets := []time.Duration{0, time.Microsecond, -time.Microsecond, time.Nanosecond * 500}
	pick := func(base time.Time) *time.Time {
		if rng.IntN(8) == 0 {
			return nil
		}
		var v time.Time
		switch rng.IntN(3) {
		case 0: // a day edge
			v = base.Truncate(dayWidth).Add(time.Duration(rng.IntN(5)-2) * dayWidth)
		case 1: // a slot edge
			v = base.Truncate(flow.SlotWidth).Add(time.Duration(rng.IntN(200)-100) * flow.SlotWidth)
		default: // anywhere
			v = base.Add(time.Duration(rng.Int64N(int64(4*dayWidth))) - 2*dayWidth).Truncate(time.Microsecond)
		}
		v = v.Add(offsets[rng.IntN(len(offsets))]).Truncate(time.Microsecond)
		return &v
	}
	in := func(s span, t time.Time) bool {
		return (s.from == nil || !t.Before(*s.from)) && (s.to == nil || t.Before(*s.to))
	}
	whole := func(s span, w time.Duration) bool {
		return (s.from == nil || s.from.Truncate(w).Equal(*s.from)) && (s.to == nil || s.to.Truncate(w).Equal(*s.to))
	}
	for i := 0; i < 200000; i++ {
		base := bases[rng.IntN(len(bases))]
		from, to := pick(base), pick(base)
		now := base.Add(time.Duration(rng.Int64N(int64(4*dayWidth))) - 2*dayWidth)
		if rng.IntN(3) == 0 && to != nil {
			now = to.Add(time.Duration(rng.IntN(3)-1) * time.Microsecond)
		}
		withDays := rng.IntN(2) == 0
		p := splitRange(from, to, withDays, now)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("from %v to %v now %v days %v: %+v: "+format, append([]any{from, to, now, withDays, p}, args...)...)
		}
		if !withDays && p.days != nil {
			fail("days without withDays")
		}
		if p.days != nil && !whole(*p.days, dayWidth) {
			fail("days not whole")
		}
		for _, s := range p.slots {
			if !whole(s, flow.SlotWidth) {
				fail("slot span not whole")
			}
		}
		if p.changes != nil && !whole(*p.changes, flow.SlotWidth) {
			fail("changes span not whole")
		}
		for _, s := range append(append([]span{}, p.raw...), p.sub...) {
			if s.from == nil || s.to == nil || !s.from.Before(*s.to) ||
				!s.from.Truncate(flow.SlotWidth).Equal(s.to.Add(-time.Microsecond).Truncate(flow.SlotWidth)) {
				fail("edge span %v-%v not inside one slot", s.from, s.to)
			}
		}
		// The instants where anything changes, and next to them.
		var points []time.Time
		add := func(ts ...*time.Time) {
			for _, x := range ts {
				if x != nil {
					points = append(points, x.Add(-time.Microsecond), *x, x.Add(time.Microsecond))
				}
			}
		}
		add(from, to)
		if p.days != nil {
			add(p.days.from, p.days.to)
		}
		if p.changes != nil {
			add(p.changes.from, p.changes.to)
		}
		for _, s := range append(append(append([]span{}, p.slots...), p.raw...), p.sub...) {
			add(s.from, s.to)
		}
		for _, x := range []time.Time{base.Add(-100 * dayWidth), base.Add(100 * dayWidth)} {
			add(&x)
		}
		for _, x := range points {
			rollups := 0
			if p.days != nil && in(*p.days, x) {
				rollups++
			}
			for _, s := range p.slots {
				if in(s, x) {
					rollups++
				}
			}
			changes := 0
			if p.changes != nil && in(*p.changes, x) {
				changes++
			}
			if rollups != changes || rollups > 1 {
				fail("at %v: rollups %d, changes %d", x, rollups, changes)
			}
			n := rollups
			for _, s := range p.raw {
				if in(s, x) {
					n++
				}
			}
			for _, s := range p.sub {
				if in(s, x) {
					n--
				}
			}
			want := 0
			if in(span{from, to}, x) {
				want = 1
			}
			if n != want {
				fail("at %v: counted %d times, want %d", x, n, want)
			}
		}
	}
}
