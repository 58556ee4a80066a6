package parser_test

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/logscan/logscan/parser"
)

// A Reader turns one log into Arrow record batches: Next, Record, Err,
// and Release at the end, like Arrow's own CSV reader.
func ExampleReader() {
	log := "#Software: Microsoft Exchange Server\r\n" +
		"#Log-type: SMTP Receive Protocol Log\r\n" +
		"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n" +
		"2026-11-02T10:00:01.000Z,EX01\\Default Frontend EX01,08DE1A30098945F8,0,10.20.0.11:25,203.0.113.7:50123,+,,\r\n" +
		"2026-11-02T10:00:01.010Z,EX01\\Default Frontend EX01,08DE1A30098945F8,1,10.20.0.11:25,203.0.113.7:50123,<,EHLO mail.example.org,\r\n" +
		"2026-11-02T10:00:01.020Z,EX01\\Default Frontend EX01,08DE1A30098945F8,2,10.20.0.11:25,203.0.113.7:50123,-,,Local\r\n"
	r := parser.NewReader(strings.NewReader(log), "RECV2026110210-1.LOG")
	defer r.Release()
	for r.Next() {
		rec := r.Record()
		data := rec.Column(parser.ColData).(*array.String)
		lines := rec.Column(parser.ColLine).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			fmt.Printf("line %d: %q\n", lines.Value(i), data.Value(i))
		}
	}
	if err := r.Err(); err != nil {
		fmt.Println(err)
	}
	st := r.Stats()
	fmt.Printf("%d rows read, %d kept, %d rejected\n", st.RowsRead, st.RowsEmitted, st.RowsRejected)
	// Output:
	// line 4: ""
	// line 5: "EHLO mail.example.org"
	// line 6: ""
	// 3 rows read, 3 kept, 0 rejected
}
