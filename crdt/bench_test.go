package crdt

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchSets returns two replicas of a 1,000-element set written by 10
// clients that have diverged a little since they last synced.
func benchSets(b *testing.B) (*ORSet, *ORSet) {
	r := rand.New(rand.NewPCG(7, 7))
	base := &ORSet{}
	for i := range 1000 {
		mustAdd(b, base, fmt.Sprintf("client-%d", r.IntN(10)), fmt.Sprintf(`{"id":%d,"tag":"t%d"}`, i, i%17))
	}
	x, y := base.Clone(), base.Clone()
	for i := range 50 {
		x.Remove(json.RawMessage(fmt.Sprintf(`{"id":%d,"tag":"t%d"}`, i, i%17)))
		mustAdd(b, y, "client-3", fmt.Sprintf(`{"id":%d,"tag":"new"}`, 2000+i))
	}
	return x, y
}

func BenchmarkORSetMergeTyped(b *testing.B) {
	x, y := benchSets(b)
	b.ReportAllocs()
	for b.Loop() {
		m := x.Clone()
		m.Merge(y)
	}
}

func BenchmarkORSetMergeBytes(b *testing.B) {
	x, y := benchSets(b)
	xb, yb := x.Encode(), y.Encode()
	b.SetBytes(int64(len(xb) + len(yb)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(KindORSet, xb, yb, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeORSet(b *testing.B) {
	x, _ := benchSets(b)
	data := x.Encode()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeORSet(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMergeCounterBytes(b *testing.B) {
	stored := []byte(`{"c":{"a":"10","b":"20","c":"30","d":"40"}}`)
	written := []byte(`{"c":{"a":"11"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(KindCounter, stored, written, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
