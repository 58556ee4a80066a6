package exconfig

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead: an export is untrusted text; no input may panic the readers or
// the simulation.
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 1<<20 {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"Identity":"A\\B","Bindings":"0.0.0.0:25 [::]:25","RemoteIPRanges":{"value":["10.0.0.0/8",{"LowerBound":"10.1.1.1","UpperBound":"10.1.1.0"}]},"AuthMechanism":999999}]`))
	f.Add([]byte(`<Objs><Obj RefId="0"><Props><Ref N="Bindings" RefId="0"/><Obj N="RemoteIPRanges"><LST><Obj><ToString>10.0.0.1</ToString></Obj></LST></Obj></Props></Obj></Objs>`))
	f.Add([]byte(`<Objs><Obj RefId="0"><Props><Ref N="Name" RefId="0"/><S N="Bindings">0.0.0.0:25</S></Props></Obj></Objs>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Read(b)
		if err != nil {
			return
		}
		for _, l := range c.Listeners() {
			c.Partition(l)
			c.Select(l.Server, l.Binding, netip.MustParseAddr("10.1.2.3"))
		}
	})
}
