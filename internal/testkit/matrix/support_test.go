package matrix

import (
	"os"
	"strings"
	"testing"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
	"github.com/corosync-go/corosync/internal/wire/vqwire"
)

// column is one daemon of the support table and what the release probe
// finds on it (TestSafetyEveryDaemon and the matrix oracle check that on
// the real daemons). On main, that is what votequorum's probe finds; the
// other services' stop at 3.1.6, which allows them the same requests.
type column struct {
	title string
	probe corosync.Version
}

var columns = []column{
	{"2.4.6", corosync.Version2_4},
	{"3.0.4", corosync.Version3_0},
	{"3.1.0–3.1.5 ¹", corosync.Version3_0},
	{"3.1.7", corosync.Version3_1_6},
	{"3.1.10", corosync.Version3_1_6},
	{"3.1.10 on libqb 1.0.3", corosync.Version3_1_6},
	{"main", corosync.VersionMain},
}

// feature is one row: the public calls and the requests they send.
type feature struct {
	service, what string
	table         *wire.Requests
	ids           []int32
}

var features = []feature{
	{"quorum", "`Dial`, `Quorate`, `Subscribe` (V0 model: quorum changes)", quorumwire.Requests, []int32{quorumwire.ReqGetType, quorumwire.ReqGetQuorate, quorumwire.ReqTrackStart, quorumwire.ReqTrackStop}},
	{"quorum", "V1 model (nodelist events, full ring ids; `Dial` picks it where it can)", quorumwire.Requests, []int32{quorumwire.ReqModelGetType}},
	{"votequorum", "`Info`, `SetExpected`, `SetVotes`, `Subscribe`, `WhatIf`", vqwire.Requests, []int32{vqwire.ReqGetInfo, vqwire.ReqSetExpected, vqwire.ReqSetVotes, vqwire.ReqTrackStart, vqwire.ReqTrackStop}},
	{"votequorum", "quorum device API (register, poll, update, master_wins)", vqwire.Requests, []int32{vqwire.ReqQdeviceRegister, vqwire.ReqQdeviceUnregister, vqwire.ReqQdeviceUpdate, vqwire.ReqQdevicePoll, vqwire.ReqQdeviceMasterWins}},
	{"votequorum", "quorum device extra info: `SetQdeviceExtraInfo`, `QdeviceExtraInfo`, its events (main only) ²", vqwire.Requests, []int32{10, 11}},
	{"cfg", "`LocalNodeID`, `RingStatus`, `NodeAddrs`, `KillNode`, `Reload`, `Shutdown`, `ReplyShutdown`", cfgwire.Requests, []int32{cfgwire.ReqLocalGet, cfgwire.ReqRingStatusGet, cfgwire.ReqGetNodeAddrs, cfgwire.ReqKillNode, cfgwire.ReqReloadConfig, cfgwire.ReqTryShutdown, cfgwire.ReqReplyToShutdown}},
	{"cfg", "`ReopenLog`", cfgwire.Requests, []int32{cfgwire.ReqReopenLogFiles}},
	{"cfg", "`NodeStatus` (knet links), `WithShutdownTracking`", cfgwire.Requests, []int32{cfgwire.ReqNodeStatusGet, cfgwire.ReqTrackStart, cfgwire.ReqTrackStop}},
	{"cmap", "main map: get, set, delete, inc/dec, iterate, track", cmapwire.Requests, []int32{cmapwire.ReqGet, cmapwire.ReqSet, cmapwire.ReqDelete, cmapwire.ReqAdjustInt, cmapwire.ReqIterInit, cmapwire.ReqIterNext, cmapwire.ReqIterFinalize, cmapwire.ReqTrackAdd, cmapwire.ReqTrackDelete}},
	{"cmap", "stats map (`WithMap(MapStats)`) ³", cmapwire.Requests, []int32{cmapwire.ReqSetCurrentMap}},
	{"cpg", "`Join`, `Send`, `Leave`, membership, groups, local node id", cpgwire.Requests, []int32{cpgwire.ReqJoin, cpgwire.ReqLeave, cpgwire.ReqMcast, cpgwire.ReqPartialMcast, cpgwire.ReqMembership, cpgwire.ReqLocalGet, cpgwire.ReqIterInitialize, cpgwire.ReqIterNext, cpgwire.ReqIterFinalize, cpgwire.ReqFinalize}},
}

func supportTable() string {
	var b strings.Builder
	b.WriteString("| service | calls |")
	for _, c := range columns {
		b.WriteString(" " + c.title + " |")
	}
	b.WriteString("\n|---|---|")
	for range columns {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, f := range features {
		b.WriteString("| " + f.service + " | " + f.what + " |")
		for _, c := range columns {
			cell := "yes"
			for _, id := range f.ids {
				if f.table.Check(id, c.probe) != nil {
					cell = "no"
				}
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString(`
"no" means the call fails with ` + "`corosync.ErrNotSupported`" + ` and nothing is sent; every
other call works. The table is generated from the module's request tables (see
[Internals](#internals)); the module's safety test makes every call against real clusters
of each daemon of the matrix (all columns but ¹), and the matrix oracle compares the
results with that daemon's own C libraries.

¹ Not in the matrix. The release probe reads 3.1.0 to 3.1.5 as 3.0: their IPC shows
nothing that 3.0.4 lacks unless a client sends a request 3.0 does not define.
² No release has it. A votequorum client tells main from 3.1.x by one cpg question that every
release since 2.4 answers without doing anything (see ` + "`corosync.VersionMain`" + `).
³ corosync 2.x keeps its statistics in the main map (runtime.connections.*, runtime.totem.pg.*).
`)
	return b.String()
}

// The support table in the README is generated from the request tables.
func TestSupportTable(t *testing.T) {
	const begin, end = "<!-- support:begin -->\n", "<!-- support:end -->\n"
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatal("README.md has no support section (<!-- support:begin --> ... <!-- support:end -->)")
	}
	want := supportTable()
	if *update {
		text = text[:i+len(begin)] + want + text[j:]
		if err := os.WriteFile("../../../README.md", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := text[i+len(begin) : j]; got != want {
		t.Errorf("README.md's support table is stale; run go test ./internal/testkit/matrix -run SupportTable -update\nwant:\n%s", want)
	}
}
