//go:build linux

package corotest

import (
	"bufio"
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// CmapLine is one line of corosync-cmapctl's output: "key (type) = value",
// or "key (bin)" for a binary value printed without -b.
type CmapLine struct {
	Key, Type, Text string
}

var cmapctlLine = regexp.MustCompile(`^(\S+) \(([a-z0-9]+)\)(?: = (.*))?$`)

// Cmapctl runs corosync-cmapctl with args on the node and parses its
// output, failing t on an error or a line it cannot read.
func (n *Node) Cmapctl(t testing.TB, args ...string) []CmapLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := n.Exec(ctx, "corosync-cmapctl", args...)
	if err != nil {
		t.Fatalf("corosync-cmapctl %v: %v: %s", args, err, out)
	}
	var res []CmapLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := cmapctlLine.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("unparsed corosync-cmapctl line %q", sc.Text())
		}
		res = append(res, CmapLine{m[1], m[2], m[3]})
	}
	return res
}

// CmapVolatile reports keys whose values move between two reads of an idle
// daemon's map (counters and resource polls).
func CmapVolatile(key string) bool {
	for _, p := range []string{"runtime.services.", "resources.", "stats."} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
