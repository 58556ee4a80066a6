package heuristics

import "strings"

// domainJudge says which recipient domains are outside the accepted ones,
// by the hash of the name (addrHash), as the relay report asks for every
// recipient address, hour and partial signature of every client: each
// domain a group kept apart is judged once, when the judge is made, not
// once per question.
type domainJudge struct {
	// outsideNamed is the verdict on every domain a group kept apart
	// (RelayDetector.nameList), by hash; outsideID the same by number.
	outsideNamed map[uint64]bool
	outsideID    []bool
	// The hashes of the accepted domains given by name, and whether a
	// pattern (*.contoso.com) is accepted: the other domains, known only
	// by hash, are judged against those.
	acceptedHashes map[uint64]struct{}
	wildcard       bool
	// hashClash: two of the names share a hash, so outside(hash) may not
	// say of one what it says of the other (allOutside is then false).
	hashClash bool
}

func newDomainJudge(v *orgView, nameList []string) *domainJudge {
	j := &domainJudge{outsideNamed: make(map[uint64]bool, len(nameList)), outsideID: make([]bool, len(nameList)),
		acceptedHashes: map[uint64]struct{}{}, wildcard: hasWildcard(v.accepted)}
	for id, n := range nameList {
		out := !v.isAccepted(n)
		h := addrHash(n)
		if _, seen := j.outsideNamed[h]; seen {
			j.hashClash = true // the names are distinct (RelayDetector.intern)
		}
		j.outsideNamed[h] = out
		j.outsideID[id] = out
	}
	for _, a := range v.accepted {
		if !strings.HasPrefix(a, "*.") {
			j.acceptedHashes[addrHash(a)] = struct{}{}
		}
	}
	return j
}

// outside says whether the domain hashed h is outside the accepted
// domains, and whether that is known: a domain kept apart is judged by
// name; another (one of the other domains) only against the accepted
// domains given by name, and not known when a pattern (*.contoso.com) is
// accepted.
func (j *domainJudge) outside(h uint64) (outside, known bool) {
	if out, ok := j.outsideNamed[h]; ok {
		return out, true
	}
	if _, ok := j.acceptedHashes[h]; ok {
		return false, true
	}
	if j.wildcard {
		return false, false
	}
	return true, true
}

// allOutside reports whether every domain g counted recipients in is
// outside the accepted domains, as outside judges them by hash and as the
// accepted domains judge them by name: g kept every one apart (no other
// domains, relayGroup.evicted and evictedOver), each is outside, and no
// two names share a hash. Every domain set, hour and address of g then
// relayed (relayGroup.outside need not judge them one by one): their
// domains are g's domains.
func (j *domainJudge) allOutside(g *relayGroup) bool {
	if j.hashClash || len(g.evicted) > 0 || g.evictedOver > 0 {
		return false
	}
	for _, id := range g.domIDs {
		if !j.outsideID[id] {
			return false
		}
	}
	return true
}
