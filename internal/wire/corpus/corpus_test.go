package corpus

import (
	"bytes"
	"testing"
)

// Format and Parse round-trip, including the bytes Go's fuzzer writes, and
// a file that is not a corpus file is refused with its name.
func TestRoundTrip(t *testing.T) {
	msg := []byte{0, 1, 0xff, '"', '\\', '\n'}
	s, err := Parse("x", Format(msg, 7))
	if err != nil || !bytes.Equal(s.Msg, msg) || !s.HasReq || s.Req != 7 || s.Name != "x" {
		t.Fatalf("%+v %v", s, err)
	}
	s, err = Parse("y", []byte("go test fuzz v1\n[]byte(\"\\x01\")\n"))
	if err != nil || !bytes.Equal(s.Msg, []byte{1}) || s.HasReq {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := Parse("bad", []byte("hello")); err == nil {
		t.Fatal("a non-corpus file parsed")
	}
}
