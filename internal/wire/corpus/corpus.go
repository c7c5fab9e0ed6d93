// Package corpus reads and writes the Go fuzz corpus files that the codecs'
// tests keep in testdata/fuzz/<target>/: real messages captured from a
// corosync daemon, used as fuzz seeds and as decoder test vectors. A file
// holds one message ([]byte) and, for responses, the id of the request it
// answers (int32).
package corpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Seed is one corpus file.
type Seed struct {
	Name string // the file name
	Msg  []byte
	// Req is the request id a response answers; HasReq says whether the
	// file has one.
	Req    int32
	HasReq bool
}

const header = "go test fuzz v1"

// Parse decodes a corpus file's contents.
func Parse(name string, data []byte) (Seed, error) {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 2 || lines[0] != header || !strings.HasPrefix(lines[1], "[]byte(") {
		return Seed{}, fmt.Errorf("%s: not a fuzz corpus file", name)
	}
	s := Seed{Name: name}
	msg, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		return Seed{}, fmt.Errorf("%s: message: %w", name, err)
	}
	s.Msg = []byte(msg)
	if len(lines) > 2 {
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(lines[2], "int32("), ")"), 10, 32)
		if err != nil {
			return Seed{}, fmt.Errorf("%s: request id: %w", name, err)
		}
		s.Req, s.HasReq = int32(v), true
	}
	return s, nil
}

// Format encodes a corpus file: msg and, if given, the request id.
func Format(msg []byte, req ...int32) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n[]byte(%q)\n", header, msg)
	for _, r := range req {
		fmt.Fprintf(&b, "int32(%d)\n", r)
	}
	return []byte(b.String())
}

// All reads every file of testdata/fuzz/target, in name order, failing t
// if there is none or one does not parse.
func All(t testing.TB, target string) []Seed {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("no seeds in %s: %v", dir, err)
	}
	out := make([]Seed, 0, len(ents))
	for _, e := range ents {
		out = append(out, Named(t, target, e.Name()))
	}
	return out
}

// Named reads testdata/fuzz/target/name.
func Named(t testing.TB, target, name string) Seed {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Write stores msg (and req) as testdata/fuzz/target/name.
func Write(t testing.TB, target, name string, msg []byte, req ...int32) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), Format(msg, req...), 0o644); err != nil {
		t.Fatal(err)
	}
}
