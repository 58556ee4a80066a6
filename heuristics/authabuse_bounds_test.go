package heuristics

import "testing"

// authCaps are the caps of AuthAbuseDetector, for a test to lower.
type authCaps struct {
	accounts, sources, sends, rcpts, attackSources, attackNames, hours int
}

// setAuthCapsForTest lowers the detector's caps (0 leaves one as it is)
// until the test ends. Not safe while a scan runs.
func setAuthCapsForTest(t *testing.T, c authCaps) {
	t.Helper()
	old := authCaps{maxAccounts, maxAcctSources, maxAcctSends, maxAcctRcpts, maxAttackSources, maxAttackNames, maxHours}
	set := func(v *int, n int) {
		if n > 0 {
			*v = n
		}
	}
	set(&maxAccounts, c.accounts)
	set(&maxAcctSources, c.sources)
	set(&maxAcctSends, c.sends)
	set(&maxAcctRcpts, c.rcpts)
	set(&maxAttackSources, c.attackSources)
	set(&maxAttackNames, c.attackNames)
	set(&maxHours, c.hours)
	t.Cleanup(func() {
		maxAccounts, maxAcctSources, maxAcctSends, maxAcctRcpts = old.accounts, old.sources, old.sends, old.rcpts
		maxAttackSources, maxAttackNames, maxHours = old.attackSources, old.attackNames, old.hours
	})
}
