package dialect

import (
	"encoding/json"
	"testing"
)

func TestJSONText(t *testing.T) {
	if s, err := jsonText(json.RawMessage(` {"a": 1} `)); err != nil || s != ` {"a": 1} ` {
		t.Errorf("raw: %q %v", s, err)
	}
	if s, err := jsonText("it's"); err != nil || s != `"it's"` {
		t.Errorf("string: %q %v", s, err)
	}
	if _, err := jsonText(json.RawMessage(`{`)); err == nil {
		t.Error("invalid raw JSON accepted")
	}
	if _, err := jsonText(make(chan int)); err == nil {
		t.Error("channel encoded")
	}
}
