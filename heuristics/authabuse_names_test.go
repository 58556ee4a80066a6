package heuristics

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestAuthAbuseNameIndex: finding accounts through byName, for every name
// (the default), for a few (the bound reached) or none (the long way
// alone, maxNameSlots 0), gives the same report and the same names per
// account, past the accounts' cap (accounts cut while their names are
// indexed) and with names logged in several spellings, more than an
// account's names counter keeps.
func TestAuthAbuseNameIndex(t *testing.T) {
	setAuthCapsForTest(t, authCapsLowered)
	list := capsWorkload()
	rng := rand.New(rand.NewPCG(21, 22))
	for i := range 400 {
		user := fmt.Sprintf("user%03d", rng.IntN(30))
		if i%3 == 0 {
			user = "aaron"
		}
		// 20 spellings of aaron: more than the 16 names an account keeps.
		names := []string{`CONTOSO\` + user, `contoso\` + user, user + "@contoso.com", ` CONTOSO\` + user + ` `, fmt.Sprintf(`DOM%d\%s`, rng.IntN(17), user)}
		list = append(list, submit(names[rng.IntN(len(names))], fmt.Sprintf("10.40.1.%d", rng.IntN(50)+1), time.Duration(i)*time.Minute, "x@fabrikam.example"))
	}
	rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })

	type result struct {
		findings, attacks, budgets string
		names                      map[string]map[string]int64
	}
	run := func(slots int) result {
		old := maxNameSlots
		maxNameSlots = slots
		defer func() { maxNameSlots = old }()
		d := newAuthAbuseDetector(contosoOnly)
		for _, s := range list {
			d.observe(s)
		}
		d.finish()
		res := result{names: map[string]map[string]int64{}}
		for key, a := range d.accounts {
			m := map[string]int64{"(over)": a.names.over}
			for n, c := range a.names.m {
				m[n] = *c
			}
			res.names[key] = m
		}
		rep := analyze(contosoOnly, list)
		js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
		res.findings, res.attacks, res.budgets = js(rep.Findings), js(rep.AuthAttacks), js(rep.Budgets)
		return res
	}
	want := run(0)
	if a := want.names["aaron"]; len(a) != 17 || a["(over)"] == 0 {
		t.Fatalf("aaron's names %v: want 16 kept and some over", a)
	}
	if want.names["user029"] != nil {
		t.Fatalf("user029 kept: the accounts' cap is not reached")
	}
	for _, slots := range []int{65_536, 7} {
		if got := run(slots); !reflect.DeepEqual(got, want) {
			for key := range want.names {
				if !reflect.DeepEqual(got.names[key], want.names[key]) {
					t.Errorf("%d slots: %s's names %v, want %v", slots, key, got.names[key], want.names[key])
				}
			}
			t.Errorf("%d slots: other report: %v %v %v", slots, got.findings == want.findings, got.attacks == want.attacks, got.budgets == want.budgets)
		}
	}
}

// TestAuthAbuseNameIndexForgetsCutAccounts: an account cut by the accounts'
// budget leaves the name index with it, or the index would keep it (its
// sources, sends and samples) alive past the budget. Names arrive highest
// first, so that every new account cuts older ones.
func TestAuthAbuseNameIndexForgetsCutAccounts(t *testing.T) {
	setAuthCapsForTest(t, authCaps{accounts: 64})
	d := newAuthAbuseDetector(contosoOnly)
	for i := 1999; i >= 0; i-- {
		d.observe(submit(fmt.Sprintf(`CONTOSO\u%05d`, i), "10.40.1.1", time.Duration(i)*time.Second, "x@fabrikam.example"))
	}
	if len(d.accounts) > 64 {
		t.Fatalf("%d accounts kept, budget 64", len(d.accounts))
	}
	for name, slot := range d.byName {
		if slot.a.dropped {
			t.Fatalf("the name index keeps %q of a cut account (%d names indexed, %d accounts kept)", name, len(d.byName), len(d.accounts))
		}
	}
	if len(d.byName) == 0 || len(d.byName) > len(d.accounts) {
		t.Errorf("%d names indexed for %d accounts kept: want one per kept account", len(d.byName), len(d.accounts))
	}
}
