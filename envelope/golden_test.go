package envelope

import (
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json")

// golden pins the wire format: envelopes sealed once, under fixed keys, must
// keep opening. Decryption is deterministic, so unlike sealing this does not
// depend on how the standard library draws randomness.
type golden struct {
	Plaintext string          `json:"plaintext"`
	AES       json.RawMessage `json:"aes"`
	PQ        json.RawMessage `json:"pq"`
}

const goldenPath = "testdata/golden.json"

func TestGoldenEnvelopes(t *testing.T) {
	k, priv, p := testKey(t, "k1"), testPQKey(t), NewHPKEProvider()
	if *update {
		writeGolden(t, k, p, priv)
	}
	g := readGolden(t)
	env, err := ParseEnvelope(g.AES)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := Open(k, testCell, env); err != nil || string(pt) != g.Plaintext {
		t.Fatalf("AES golden: %q, %v", pt, err)
	}
	pqEnv, err := ParsePQEnvelope(g.PQ)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := OpenPQ(p, priv, testCell, pqEnv); err != nil || string(pt) != g.Plaintext {
		t.Fatalf("PQ golden: %q, %v", pt, err)
	}
}

func readGolden(t testing.TB) golden {
	t.Helper()
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func writeGolden(t *testing.T, k Key, p PQHybridProvider, priv PQPrivateKey) {
	g := golden{Plaintext: "golden value ✓"}
	var err error
	if g.AES, err = json.Marshal(mustSeal(t, k, testCell, []byte(g.Plaintext))); err != nil {
		t.Fatal(err)
	}
	if g.PQ, err = json.Marshal(mustSealPQ(t, p, priv.PublicKey(), testCell, []byte(g.Plaintext))); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
