package inventory

import (
	"bytes"
	"cmp"
	"container/heap"
	"net/netip"
	"slices"
	"strings"

	"github.com/logscan/logscan/heuristics/session"
)

// Bounded containers. Each keeps the smallest values (by a total order),
// never the first ones: what is kept then does not depend on the order in
// which sessions arrive, so two runs with any number of workers print the
// same thing. A value among the smallest is never dropped on the way
// (only a smaller one can push a value out, and smaller ones stay), so the
// counts of kept values are exact, and so is the count of the rest.
//
// Values are kept as ids into a strTable, and addresses as plain bytes:
// the rows hold no pointers but their slices', so the garbage collector,
// which runs often while the parser churns through buffers, has little of
// the inventory to scan.

// strTable gives each distinct string kept one id. Strings are copied in
// (session text is a slice of the session's whole buffer).
type strTable struct {
	ids  map[string]uint32
	list []string
}

func newStrTable() *strTable { return &strTable{ids: map[string]uint32{}} }

func (t *strTable) id(s string) uint32 {
	if id, ok := t.ids[s]; ok {
		return id
	}
	c := strings.Clone(s)
	t.list = append(t.list, c)
	id := uint32(len(t.list) - 1)
	t.ids[c] = id
	return id
}

func (t *strTable) str(id uint32) string { return t.list[id] }

// index returns where v is in ids, or -1: by comparing strings while the
// list is short (a row's few names and domains), else through the table.
func (t *strTable) index(ids []uint32, v string) int {
	if len(ids) <= 8 {
		for i, id := range ids {
			if t.list[id] == v {
				return i
			}
		}
		return -1
	}
	id, ok := t.ids[v]
	if !ok {
		return -1
	}
	return slices.Index(ids, id)
}

// Inline variants for the small bounded lists every row has: values held
// in the row itself, so a row is one allocation with few pointers.

// set8 keeps at most max (8 or less) of the smallest distinct strings.
type set8 struct {
	ids  [8]uint32
	n    uint8
	more bool
}

// set16 is set8 for up to 16.
type set16 struct {
	ids  [16]uint32
	n    uint8
	more bool
}

func (s *set8) add(v string, max int, t *strTable) {
	s.n, s.more = addInline(s.ids[:], s.n, s.more, v, min(max, len(s.ids)), t)
}

func (s *set16) add(v string, max int, t *strTable) {
	s.n, s.more = addInline(s.ids[:], s.n, s.more, v, min(max, len(s.ids)), t)
}

// addInline inserts v's id into the sorted ids[:n], keeping the max
// smallest.
func addInline(ids []uint32, n uint8, more bool, v string, max int, t *strTable) (uint8, bool) {
	if t.index(ids[:n], v) >= 0 {
		return n, more // the common case, a value seen before
	}
	i, found := slices.BinarySearchFunc(ids[:n], v, func(id uint32, v string) int { return strings.Compare(t.str(id), v) })
	if found {
		return n, more
	}
	if int(n) >= max {
		more = true
		if i >= int(n) {
			return n, more
		}
		n-- // drop the largest
	}
	copy(ids[i+1:n+1], ids[i:n])
	ids[i] = t.id(v)
	return n + 1, more
}

func (s *set8) merge(o *set8, max int, t *strTable) {
	for _, id := range o.ids[:o.n] {
		if !slices.Contains(s.ids[:s.n], id) { // one table: equal ids, equal strings
			s.add(t.str(id), max, t)
		}
	}
	s.more = s.more || o.more
}

func (s *set16) merge(o *set16, max int, t *strTable) {
	for _, id := range o.ids[:o.n] {
		if !slices.Contains(s.ids[:s.n], id) {
			s.add(t.str(id), max, t)
		}
	}
	s.more = s.more || o.more
}

func (s *set8) list(t *strTable) List  { return listOf(s.ids[:s.n], s.more, t) }
func (s *set16) list(t *strTable) List { return listOf(s.ids[:s.n], s.more, t) }

func listOf(ids []uint32, more bool, t *strTable) List {
	l := List{Values: make([]string, len(ids)), More: more}
	for i, id := range ids {
		l.Values[i] = t.str(id)
	}
	return l
}

// tally8 is idTally for up to 8 values, inline.
type tally8 struct {
	ids  [8]uint32
	cnt  [8]int64
	n    uint8
	more bool
	rest int64
}

func (c *tally8) add(v string, k int64, max int, t *strTable) {
	max = min(max, len(c.ids))
	if i := t.index(c.ids[:c.n], v); i >= 0 {
		c.cnt[i] += k
		return
	}
	i, found := slices.BinarySearchFunc(c.ids[:c.n], v, func(id uint32, v string) int { return strings.Compare(t.str(id), v) })
	if found {
		c.cnt[i] += k
		return
	}
	if int(c.n) >= max {
		c.more = true
		if i >= int(c.n) {
			c.rest += k
			return
		}
		c.n--
		c.rest += c.cnt[c.n]
	}
	copy(c.ids[i+1:c.n+1], c.ids[i:c.n])
	copy(c.cnt[i+1:c.n+1], c.cnt[i:c.n])
	c.ids[i], c.cnt[i] = t.id(v), k
	c.n++
}

func (c *tally8) merge(o *tally8, max int, t *strTable) {
	for i, id := range o.ids[:o.n] {
		if j := slices.Index(c.ids[:c.n], id); j >= 0 {
			c.cnt[j] += o.cnt[i]
		} else {
			c.add(t.str(id), o.cnt[i], max, t)
		}
	}
	c.rest += o.rest
	c.more = c.more || o.more
}

func (c *tally8) counts(t *strTable) Counts {
	out := Counts{Rest: c.rest, More: c.more}
	for i, id := range c.ids[:c.n] {
		out.Values = append(out.Values, Count{t.str(id), c.cnt[i]})
	}
	return out
}

// idTally counts occurrences of at most max of the smallest distinct
// strings; occurrences of values not kept are counted in rest.
type idTally struct {
	ids  []uint32 // sorted by string
	n    []int64
	rest int64 // occurrences of values not kept
	more bool  // some value was not kept
}

func (c *idTally) add(v string, k int64, max int, t *strTable) {
	if i := t.index(c.ids, v); i >= 0 {
		c.n[i] += k // the common case, a value seen before
		return
	}
	i, found := slices.BinarySearchFunc(c.ids, v, func(id uint32, v string) int { return strings.Compare(t.str(id), v) })
	if found {
		c.n[i] += k
		return
	}
	if len(c.ids) >= max {
		c.more = true
		if i >= len(c.ids) {
			c.rest += k
			return
		}
		last := len(c.ids) - 1
		c.rest += c.n[last]
		c.ids, c.n = c.ids[:last], c.n[:last]
	}
	if c.ids == nil { // most rows see a few domains: grow once, not three times
		c.ids, c.n = make([]uint32, 0, 4), make([]int64, 0, 4)
	}
	c.ids = slices.Insert(c.ids, i, t.id(v))
	c.n = slices.Insert(c.n, i, k)
}

func (c *idTally) merge(o *idTally, max int, t *strTable) {
	for i, id := range o.ids {
		c.add(t.str(id), o.n[i], max, t)
	}
	c.rest += o.rest
	c.more = c.more || o.more
}

func (c *idTally) counts(t *strTable) Counts {
	out := Counts{Rest: c.rest, More: c.more}
	for i, id := range c.ids {
		out.Values = append(out.Values, Count{t.str(id), c.n[i]})
	}
	return out
}

// certID is a certificate kept: its fields as ids.
type certID struct {
	subject, issuer, thumbprint, notAfter uint32
	local                                 bool
}

func (c certID) cert(t *strTable) Certificate {
	return Certificate{session.Certificate{Subject: t.str(c.subject), Issuer: t.str(c.issuer), Thumbprint: t.str(c.thumbprint),
		NotAfter: t.str(c.notAfter)}, c.local}
}

// certSet keeps at most max (4 or less) of the smallest certificates.
type certSet struct {
	certs [4]certID
	n     uint8
	more  bool
}

func (s *certSet) add(c Certificate, max int, t *strTable) {
	max = min(max, len(s.certs))
	i, found := slices.BinarySearchFunc(s.certs[:s.n], c, func(k certID, c Certificate) int { return compareCerts(k.cert(t), c) })
	if found {
		return
	}
	if int(s.n) >= max {
		s.more = true
		if i >= int(s.n) {
			return
		}
		s.n--
	}
	copy(s.certs[i+1:s.n+1], s.certs[i:s.n])
	s.certs[i] = certID{t.id(c.Subject), t.id(c.Issuer), t.id(c.Thumbprint), t.id(c.NotAfter), c.Local}
	s.n++
}

func (s *certSet) merge(o *certSet, max int, t *strTable) {
	for _, c := range o.certs[:o.n] {
		if !slices.Contains(s.certs[:s.n], c) {
			s.add(c.cert(t), max, t)
		}
	}
	s.more = s.more || o.more
}

// addrKey is an address as bytes: no pointer (netip.Addr holds one for its
// zone, which the parser's fixed 16-byte columns never carry anyway).
type addrKey struct {
	ip   [16]byte
	kind uint8 // 0: none, 4, 6
}

func keyOf(a netip.Addr) addrKey {
	switch {
	case !a.IsValid():
		return addrKey{}
	case a.Is4():
		return addrKey{a.As16(), 4}
	}
	return addrKey{a.As16(), 6}
}

func (k addrKey) addr() netip.Addr {
	switch k.kind {
	case 4:
		return netip.AddrFrom16(k.ip).Unmap()
	case 6:
		return netip.AddrFrom16(k.ip)
	}
	return netip.Addr{}
}

// compareAddrKeys orders as netip.Addr.Compare does: none, IPv4, IPv6,
// then by value.
func compareAddrKeys(a, b addrKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), bytes.Compare(a.ip[:], b.ip[:]))
}

// addrSet keeps at most max (4 or less) of the smallest addresses.
type addrSet struct {
	addrs [4]addrKey
	n     uint8
	more  bool
}

func (s *addrSet) add(a addrKey, max int) {
	max = min(max, len(s.addrs))
	i, found := slices.BinarySearchFunc(s.addrs[:s.n], a, compareAddrKeys)
	if found {
		return
	}
	if int(s.n) >= max {
		s.more = true
		if i >= int(s.n) {
			return
		}
		s.n--
	}
	copy(s.addrs[i+1:s.n+1], s.addrs[i:s.n])
	s.addrs[i] = a
	s.n++
}

func (s *addrSet) merge(o *addrSet, max int) {
	for _, a := range o.addrs[:o.n] {
		s.add(a, max)
	}
	s.more = s.more || o.more
}

// smallest keeps values for at most max keys, the smallest ones. A key
// pushed out, or never let in, is handed back to the caller with its value
// so that it can be folded into a catch-all. Like the sets, what it keeps
// does not depend on the order keys arrive in.
type smallest[K comparable, V any] struct {
	max     int
	m       map[K]*V
	h       keyHeap[K] // max-heap of the keys in m
	refused int64      // keys pushed out or refused
}

func newSmallest[K comparable, V any](max int, compare func(a, b K) int) *smallest[K, V] {
	return &smallest[K, V]{max: max, m: map[K]*V{}, h: keyHeap[K]{compare: compare}}
}

// get returns k's value, made by mk when there is room for k. When k is not
// kept it returns nil, with out = k. When k pushed out a larger key, that
// key and its value come back as out and outV.
func (s *smallest[K, V]) get(k K, mk func() *V) (v *V, out K, outV *V) {
	if v := s.m[k]; v != nil {
		return v, out, nil
	}
	if len(s.m) >= s.max {
		s.refused++
		top := s.h.keys[0]
		if s.h.compare(k, top) > 0 {
			return nil, k, nil
		}
		heap.Pop(&s.h)
		outV = s.m[top]
		delete(s.m, top)
		out = top
	}
	nv := mk()
	s.m[k] = nv
	heap.Push(&s.h, k)
	return nv, out, outV
}

type keyHeap[K any] struct {
	keys    []K
	compare func(a, b K) int
}

func (h keyHeap[K]) Len() int           { return len(h.keys) }
func (h keyHeap[K]) Less(i, j int) bool { return h.compare(h.keys[i], h.keys[j]) > 0 } // largest on top
func (h keyHeap[K]) Swap(i, j int)      { h.keys[i], h.keys[j] = h.keys[j], h.keys[i] }
func (h *keyHeap[K]) Push(x any)        { h.keys = append(h.keys, x.(K)) }
func (h *keyHeap[K]) Pop() any {
	n := len(h.keys) - 1
	k := h.keys[n]
	h.keys = h.keys[:n]
	return k
}
