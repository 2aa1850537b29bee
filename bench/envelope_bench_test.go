package bench

import (
	"bytes"
	"testing"

	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/plugin/encrypt"
)

// envelopeValue is the 1 KiB plaintext the envelope benchmarks seal.
var envelopeValue = bytes.Repeat([]byte{'x'}, 1024)

// envelopeFixture holds an AES keyset and a post-quantum key pair.
type envelopeFixture struct {
	ks   *envelope.Keyset
	p    envelope.PQHybridProvider
	priv envelope.PQPrivateKey
}

func newEnvelopeFixture(b *testing.B) envelopeFixture {
	b.Helper()
	k, err := envelope.NewKey("k1", bytes.Repeat([]byte{1}, envelope.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	ks, err := envelope.NewKeyset(k)
	if err != nil {
		b.Fatal(err)
	}
	p := envelope.NewHPKEProvider()
	priv, err := p.GenerateKey("pq1")
	if err != nil {
		b.Fatal(err)
	}
	return envelopeFixture{ks: ks, p: p, priv: priv}
}

// BenchmarkSeal seals a 1 KiB value for one cell into the JSON text that
// is stored in the column, as trusted code does with encrypt.SealCell:
//
//   - aesgcm: AES-256-GCM under a per-cell HKDF-SHA256 subkey;
//   - pq: HPKE with the ML-KEM-768 + X25519 hybrid KEM (a fresh key
//     exchange per value), HKDF-SHA256 and AES-256-GCM.
func BenchmarkSeal(b *testing.B) {
	f := newEnvelopeFixture(b)
	pub := f.priv.PublicKey()
	b.Run("aesgcm", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(envelopeValue)))
		for b.Loop() {
			s, err := encrypt.SealCell(f.ks, "notes", "n1", "body", envelopeValue)
			if err != nil {
				b.Fatal(err)
			}
			sinkSQL = s
		}
	})
	b.Run("pq", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(envelopeValue)))
		for b.Loop() {
			s, err := encrypt.SealCellPQ(f.p, pub, "notes", "n1", "body", envelopeValue)
			if err != nil {
				b.Fatal(err)
			}
			sinkSQL = s
		}
	})
}

// BenchmarkOpen parses the stored JSON text of a sealed 1 KiB value and
// decrypts it, as encrypt.OpenCell does with a value read back.
func BenchmarkOpen(b *testing.B) {
	f := newEnvelopeFixture(b)
	aes, err := encrypt.SealCell(f.ks, "notes", "n1", "body", envelopeValue)
	if err != nil {
		b.Fatal(err)
	}
	pq, err := encrypt.SealCellPQ(f.p, f.priv.PublicKey(), "notes", "n1", "body", envelopeValue)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("aesgcm", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(envelopeValue)))
		for b.Loop() {
			pt, err := encrypt.OpenCell(f.ks, "notes", "n1", "body", aes)
			if err != nil {
				b.Fatal(err)
			}
			sinkBuf = pt
		}
	})
	b.Run("pq", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(envelopeValue)))
		for b.Loop() {
			pt, err := encrypt.OpenCellPQ(f.p, f.priv, "notes", "n1", "body", pq)
			if err != nil {
				b.Fatal(err)
			}
			sinkBuf = pt
		}
	})
}
