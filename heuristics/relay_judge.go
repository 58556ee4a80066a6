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
}

func newDomainJudge(v *orgView, nameList []string) *domainJudge {
	j := &domainJudge{outsideNamed: make(map[uint64]bool, len(nameList)), outsideID: make([]bool, len(nameList)),
		acceptedHashes: map[uint64]struct{}{}, wildcard: hasWildcard(v.accepted)}
	for id, n := range nameList {
		out := !v.isAccepted(n)
		j.outsideNamed[addrHash(n)] = out
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
