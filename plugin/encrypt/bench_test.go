package encrypt

import (
	"bytes"
	"testing"

	"github.com/plasma-go/plasma/envelope"
)

// BenchmarkCheck is what the middleware spends on each envelope written:
// a strict parse, the limits, and the cell check. No database.
func BenchmarkCheck(b *testing.B) {
	ks, err := envelope.NewKeyset(testKey(b, "k1", 1))
	if err != nil {
		b.Fatal(err)
	}
	p := envelope.NewHPKEProvider()
	priv, err := p.GenerateKey("pq1")
	if err != nil {
		b.Fatal(err)
	}
	value := bytes.Repeat([]byte{'x'}, 1024)
	aes, err := SealCell(ks, "notes", "n1", "body", value)
	if err != nil {
		b.Fatal(err)
	}
	pq, err := SealCellPQ(p, priv.PublicKey(), "notes", "n1", "body", value)
	if err != nil {
		b.Fatal(err)
	}
	m := &enforcer{}
	cell := envelope.Cell{Table: "notes", RowID: "n1", Column: "body"}
	for _, c := range []struct{ name, text string }{{"aesgcm", aes}, {"pq", pq}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.validate(c.text, cell); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
