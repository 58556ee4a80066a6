package exconfig

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
)

// TestSelectMostSpecific: in testdata/overlap.json four connectors on
// EX01 port 25 cover nested ranges; the most specific entry decides, and
// a binding to the local address itself comes first.
func TestSelectMostSpecific(t *testing.T) {
	c := mustRead(t, "testdata/overlap.json")
	any25 := netip.MustParseAddrPort("0.0.0.0:25")
	tests := []struct {
		local, remote, winner, by string
		over                      []string
	}{
		{"0.0.0.0:25", "10.1.2.3", `EX01\Relay Host EX01`, "10.1.2.3",
			[]string{`EX01\Relay Site EX01 (10.1.0.0-10.1.255.255)`, `EX01\Relay Wide EX01 (10.0.0.0/8)`, `EX01\Default Frontend EX01 (0.0.0.0-255.255.255.255)`}},
		{"0.0.0.0:25", "10.1.2.4", `EX01\Relay Host EX01`, "10.1.2.0(255.255.255.0)",
			[]string{`EX01\Relay Site EX01 (10.1.0.0-10.1.255.255)`, `EX01\Relay Wide EX01 (10.0.0.0/8)`, `EX01\Default Frontend EX01 (0.0.0.0-255.255.255.255)`}},
		{"10.20.0.11:25", "10.1.3.1", `EX01\Relay Site EX01`, "10.1.0.0-10.1.255.255",
			[]string{`EX01\Relay Wide EX01 (10.0.0.0/8)`, `EX01\Default Frontend EX01 (0.0.0.0-255.255.255.255)`}},
		{"10.20.0.11:25", "10.200.0.1", `EX01\Relay Wide EX01`, "10.0.0.0/8", []string{`EX01\Default Frontend EX01 (0.0.0.0-255.255.255.255)`}},
		{"10.20.0.11:25", "192.0.2.1", `EX01\Default Frontend EX01`, "0.0.0.0-255.255.255.255", nil},
		// A connector bound to 10.20.0.21 itself takes that address's connections.
		{"10.20.0.21:25", "10.1.2.3", `EX01\Relay Bound EX01`, "0.0.0.0-255.255.255.255",
			[]string{`EX01\Relay Host EX01 (10.1.2.3)`, `EX01\Relay Site EX01 (10.1.0.0-10.1.255.255)`, `EX01\Relay Wide EX01 (10.0.0.0/8)`, `EX01\Default Frontend EX01 (0.0.0.0-255.255.255.255)`}},
		{"10.20.0.11:2525", "10.1.2.3", `EX01\Default EX01`, "0.0.0.0-255.255.255.255", nil},
		{"[::]:25", "2001:db8::1", `EX01\Default Frontend EX01`, "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil},
	}
	for _, tc := range tests {
		t.Run(tc.local+" from "+tc.remote, func(t *testing.T) {
			sel, ok := c.Select("ex01", netip.MustParseAddrPort(tc.local), netip.MustParseAddr(tc.remote))
			if !ok {
				t.Fatal("no connector")
			}
			var over []string
			for _, o := range sel.Over {
				over = append(over, fmt.Sprintf("%s (%s)", o.Connector.Identity, o.Range.Text))
			}
			if sel.Connector.Identity != tc.winner || sel.Range.Text != tc.by || !reflect.DeepEqual(over, tc.over) || len(sel.Tie) > 0 {
				t.Errorf("got %s by %s over %q (tie %d), want %s by %s over %q", sel.Connector.Identity, sel.Range.Text, over, len(sel.Tie), tc.winner, tc.by, tc.over)
			}
		})
	}
	if _, ok := c.Select("EX09", any25, netip.MustParseAddr("10.1.2.3")); ok {
		t.Error("a server without connectors selected one")
	}
}

// TestPartition: the address space of EX01's 0.0.0.0:25 split by winner.
func TestPartition(t *testing.T) {
	c := mustRead(t, "testdata/overlap.json")
	var l Listener
	for _, x := range c.Listeners() {
		if x.Binding == netip.MustParseAddrPort("0.0.0.0:25") {
			l = x
		}
	}
	var got []string
	for _, s := range c.Partition(l) {
		got = append(got, fmt.Sprintf("%s %s by %s", RangeText(s.Addrs), s.Connector.Name, s.Range.Text))
	}
	want := []string{
		"0.0.0.0-9.255.255.255 Default Frontend EX01 by 0.0.0.0-255.255.255.255",
		"10.0.0.0/16 Relay Wide EX01 by 10.0.0.0/8",
		"10.1.0.0/23 Relay Site EX01 by 10.1.0.0-10.1.255.255",
		"10.1.2.0-10.1.2.2 Relay Host EX01 by 10.1.2.0(255.255.255.0)",
		"10.1.2.3 Relay Host EX01 by 10.1.2.3",
		"10.1.2.4-10.1.2.255 Relay Host EX01 by 10.1.2.0(255.255.255.0)",
		"10.1.3.0-10.1.255.255 Relay Site EX01 by 10.1.0.0-10.1.255.255",
		"10.2.0.0-10.255.255.255 Relay Wide EX01 by 10.0.0.0/8",
		"11.0.0.0-255.255.255.255 Default Frontend EX01 by 0.0.0.0-255.255.255.255",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("partition:\n%q\nwant\n%q", got, want)
	}
}

// TestSelectContested: a Hub Transport connector on port 25 of a server
// running the Front End contests the Front End's port.
func TestSelectContested(t *testing.T) {
	c := mustRead(t, "../testdata/connector-config/trap-hub-port-25.json")
	sel, ok := c.Select("EX01", netip.MustParseAddrPort("10.20.0.11:25"), netip.MustParseAddr("10.30.5.9"))
	if !ok || sel.Connector.Identity != `EX01\Default Frontend EX01` || len(sel.Contested) != 1 || sel.Contested[0].Connector.Identity != `EX01\Scanners Hub EX01` {
		t.Errorf("got %+v", sel)
	}
}
