package parser

import (
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// TestLogTypeAtReadsByValue: a log-type column read back from a dataset
// has its Parquet chunk's dictionary, "send" first when a send row came
// first there. LogTypeAt must read the value, not the parser's index:
// reading the index took that chunk's receive rows for send rows, and
// `logscan session` on such a dataset found no receive session.
func TestLogTypeAtReadsByValue(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for name, dict := range map[string][]string{"parser's order": {"receive", "send"}, "send first": {"send", "receive"}} {
		db := array.NewStringBuilder(mem)
		db.AppendValues(dict, nil)
		values := db.NewArray()
		ib := array.NewInt8Builder(mem)
		ib.AppendValues([]int8{0, 1, 0}, nil)
		ib.AppendNull()
		indices := ib.NewArray()
		col := array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}, indices, values)
		for i, want := range []LogType{ParseLogType(dict[0]), ParseLogType(dict[1]), ParseLogType(dict[0]), LogTypeUnknown} {
			if got := LogTypeAt(col, i); got != want {
				t.Errorf("%s: row %d is %v, want %v", name, i, got, want)
			}
		}
		col.Release()
		indices.Release()
		values.Release()
		db.Release()
		ib.Release()
	}
}
