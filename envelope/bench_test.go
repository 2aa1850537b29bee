package envelope

import (
	"bytes"
	"sync"
	"testing"
)

// Both suites on a 1 KiB value. The bench/ suite may hold the canonical
// comparison; these keep the package's own cost visible.
func BenchmarkSeal(b *testing.B) {
	pt := bytes.Repeat([]byte{'x'}, 1024)
	k, p, priv := testKey(b, "k1"), NewHPKEProvider(), testPQKey(b)
	b.Run("aesgcm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mustSeal(b, k, testCell, pt)
		}
	})
	b.Run("pq", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mustSealPQ(b, p, priv.PublicKey(), testCell, pt)
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	pt := bytes.Repeat([]byte{'x'}, 1024)
	k, p, priv := testKey(b, "k1"), NewHPKEProvider(), testPQKey(b)
	env, pqEnv := mustSeal(b, k, testCell, pt), mustSealPQ(b, p, priv.PublicKey(), testCell, pt)
	b.Run("aesgcm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Open(k, testCell, env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pq", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := OpenPQ(p, priv, testCell, pqEnv); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Keysets, providers and keys are shared between goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	ks, _ := NewKeyset(testKey(t, "k1"))
	p, priv := NewHPKEProvider(), testPQKey(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				env, err := ks.Seal(testCell, []byte("v"))
				if err == nil {
					_, err = ks.Open(testCell, env)
				}
				pqEnv, err2 := SealPQ(p, priv.PublicKey(), testCell, []byte("v"))
				if err2 == nil {
					_, err2 = OpenPQ(p, priv, testCell, pqEnv)
				}
				if err != nil || err2 != nil {
					t.Error(err, err2)
					return
				}
			}
		})
	}
	wg.Wait()
}
