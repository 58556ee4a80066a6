package heuristics

import (
	"iter"
	"slices"
)

// hourCounts counts, per Unix hour and per T (a domain's hash, a domain
// set's), what a relaying client's timeline is made of: a slot per hour,
// each a short list of what was counted in it. A session adds to one hour,
// nearly always the group's latest, so finding it takes a look at the last
// slot, and its few domains a short scan; where a map keyed by (hour, T)
// per group cost a probe and, as the map grew entry by entry, its
// rehashing (a botnet's clients each count a hundred entries or so). Past
// hourScanMax slots, or entries in a slot, a map indexes them, so that a
// client relaying for months, or to thousands of domains in an hour, costs
// no more than the map did.
type hourCounts[T comparable] struct {
	slots   []hourSlot[T]
	byHour  map[int64]int32 // the slots' positions, once there are more than hourScanMax
	entries int             // over all slots
}

type hourSlot[T comparable] struct {
	hour    int64
	entries []hourEntry[T]
	index   map[T]int32 // the entries' positions, once there are more than hourScanMax
	// total is the sum of the entries' counts: the report takes it when
	// every entry counts (relayGroup.outside), without reading them.
	total int64
}

type hourEntry[T comparable] struct {
	of T
	n  int64
}

// hourScanMax slots, or entries in a slot, are searched one by one.
const hourScanMax = 32

// slot returns the position of hour's slot, or -1. The slots are searched
// from the latest added: sessions come mostly in time order.
func (c *hourCounts[T]) slot(hour int64) int {
	if c.byHour != nil {
		if i, ok := c.byHour[hour]; ok {
			return int(i)
		}
		return -1
	}
	for i := len(c.slots) - 1; i >= 0; i-- {
		if c.slots[i].hour == hour {
			return i
		}
	}
	return -1
}

// find returns the position of of's entry, or -1.
func (s *hourSlot[T]) find(of T) int {
	if s.index != nil {
		if i, ok := s.index[of]; ok {
			return int(i)
		}
		return -1
	}
	for i := range s.entries {
		if s.entries[i].of == of {
			return i
		}
	}
	return -1
}

// add adds n to the count of of in hour when that entry is kept, or when
// d has room for a new one (RelayDetector.hourRoom, which counts it). No
// entry of an hour at or past d.hourCutoff is kept.
func (c *hourCounts[T]) add(d *RelayDetector, hour int64, of T, n int64) {
	if hour >= d.hourCutoff {
		return
	}
	si := c.slot(hour)
	if si >= 0 {
		if ei := c.slots[si].find(of); ei >= 0 {
			c.slots[si].entries[ei].n += n
			c.slots[si].total += n
			return
		}
	}
	if !d.hourRoom(hour) {
		return
	}
	// hourRoom may have dropped hours (purgeHours): the slot is looked
	// for again.
	if si = c.slot(hour); si < 0 {
		// A new hour gets room for as many entries as the hours so far
		// had on average: a botnet's client relays to some ten domains an
		// hour, an application to one, and one allocation fits either.
		si = len(c.slots)
		room := 1
		if si > 0 {
			room = (c.entries + si - 1) / si
		}
		c.slots = append(c.slots, hourSlot[T]{hour: hour, entries: make([]hourEntry[T], 0, min(room, hourScanMax))})
		if c.byHour != nil {
			c.byHour[hour] = int32(si)
		} else if len(c.slots) > hourScanMax {
			c.indexSlots()
		}
	}
	s := &c.slots[si]
	s.entries = append(s.entries, hourEntry[T]{of, n})
	s.total += n
	c.entries++
	if s.index != nil {
		s.index[of] = int32(len(s.entries) - 1)
	} else if len(s.entries) > hourScanMax {
		s.index = make(map[T]int32, 2*len(s.entries))
		for i, e := range s.entries {
			s.index[e.of] = int32(i)
		}
	}
}

func (c *hourCounts[T]) indexSlots() {
	c.byHour = make(map[int64]int32, 2*len(c.slots))
	for i, s := range c.slots {
		c.byHour[s.hour] = int32(i)
	}
}

// purge drops the hours at or after cutoff.
func (c *hourCounts[T]) purge(cutoff int64) {
	n := len(c.slots)
	c.slots = slices.DeleteFunc(c.slots, func(s hourSlot[T]) bool {
		if s.hour >= cutoff {
			c.entries -= len(s.entries)
			return true
		}
		return false
	})
	if c.byHour != nil && len(c.slots) < n {
		c.indexSlots()
	}
}

// len is the number of entries.
func (c *hourCounts[T]) len() int { return c.entries }

// all is every entry, with its count.
func (c *hourCounts[T]) all() iter.Seq2[hourKey[T], int64] {
	return func(yield func(hourKey[T], int64) bool) {
		for _, s := range c.slots {
			for _, e := range s.entries {
				if !yield(hourKey[T]{s.hour, e.of}, e.n) {
					return
				}
			}
		}
	}
}
