package vqwire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire/corpus"
)

// seeds reads the real captures in testdata/fuzz/<target>: name -> message
// bytes, and for responses the request id.
func seeds(t testing.TB, target string) (map[string][]byte, map[string]int32) {
	t.Helper()
	msgs, reqs := map[string][]byte{}, map[string]int32{}
	for _, s := range corpus.All(t, target) {
		msgs[s.Name] = s.Msg
		if s.HasReq {
			reqs[s.Name] = s.Req
		}
	}
	return msgs, reqs
}

func TestDecodeRealEvents(t *testing.T) {
	evs, _ := seeds(t, "FuzzDecodeEvent")
	ring3, ring2 := RingID{NodeID: 1, Seq: 9}, RingID{NodeID: 1, Seq: 13}
	m := func(ids ...uint32) []Node {
		var out []Node
		for i := 0; i < len(ids); i += 2 {
			out = append(out, Node{NodeID: ids[i], State: NodeState(ids[i+1])})
		}
		return out
	}
	want := map[string]Event{
		"nodelist3":        {ID: EvNodelist, Context: 0x1111, Ring: ring3, Members: []uint32{1, 2, 3}},
		"quorum3":          {ID: EvQuorum, Context: 0x1111, Quorate: true, Nodes: m(2, 1, 3, 1, 1, 1)},
		"expectedvotes":    {ID: EvExpectedVotes, Context: 0x1111, ExpectedVotes: 4},
		"nodelist2":        {ID: EvNodelist, Context: 0x1111, Ring: ring2, Members: []uint32{1, 2}},
		"quorum_dead":      {ID: EvQuorum, Context: 0x1111, Quorate: true, Nodes: m(2, 1, 3, 2, 1, 1)},
		"nodelist_qdevice": {ID: EvNodelist, Context: 7, Ring: ring2, Members: []uint32{1, 2}},
		"quorum_qdevice":   {ID: EvQuorum, Context: 7, Quorate: true, Nodes: m(2, 1, 3, 2, 1, 1, 0, 0)},
	}
	for name, b := range evs {
		got, err := DecodeEvent(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w, ok := want[name]; ok && !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %+v, want %+v", name, got, w)
		}
		enc, err := AppendEvent(nil, got)
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) != len(b) {
			t.Errorf("%s: encoded %d bytes, daemon sent %d", name, len(enc), len(b))
		}
		// Equal to the daemon's bytes except its uninitialised padding.
		for _, pad := range padding(got.ID, len(b)) {
			enc[pad] = b[pad]
		}
		if !bytes.Equal(enc, b) {
			t.Errorf("%s: encoded\n%x\ndaemon sent\n%x", name, enc, b)
		}
	}
}

// padding lists the bytes of a message the daemon leaves uninitialised.
func padding(id int32, n int) []int {
	var p []int
	add := func(from, to int) {
		for i := from; i < to; i++ {
			p = append(p, i)
		}
	}
	add(4, 8)
	add(12, 16)
	add(20, 24)
	switch id {
	case EvQuorum:
		add(28, 32)
		add(44, 48)
	case EvNodelist:
		add(36, 40)
		add(52, 56)
	case EvExpectedVotes:
		add(36, 40)
	case ResGetInfo:
		add(315, 320)
	}
	return p
}

func TestDecodeRealResponses(t *testing.T) {
	resp, reqs := seeds(t, "FuzzDecodeResponse")
	want := map[string]Response{
		"getinfo_local":      {ID: ResGetInfo, Error: corosync.OK, Info: Info{NodeID: 1, State: NodeStateMember, NodeVotes: 1, NodeExpectedVotes: 3, HighestExpected: 3, TotalVotes: 3, Quorum: 2, Flags: FlagQuorate}},
		"getinfo_node2":      {ID: ResGetInfo, Error: corosync.OK, Info: Info{NodeID: 2, State: NodeStateMember, NodeVotes: 1, NodeExpectedVotes: 3, HighestExpected: 3, TotalVotes: 3, Quorum: 2, Flags: FlagQuorate}},
		"getinfo_qdevice":    {ID: ResGetInfo, Error: corosync.OK, Info: Info{NodeID: 1, State: NodeStateMember, NodeVotes: 1, NodeExpectedVotes: 3, HighestExpected: 3, TotalVotes: 2, Quorum: 2, Flags: FlagQuorate | FlagQdevice, QdeviceName: "vqtest"}},
		"getinfo_unknown":    {ID: ResGetInfo, Error: corosync.ErrNotExist},
		"reject":             {ID: ResStatus, Error: corosync.ErrInvalidParam},
		"status_ok":          {ID: ResStatus, Error: corosync.OK},
		"status_exist":       {ID: ResStatus, Error: corosync.ErrExist},
		"trackstop_notexist": {ID: ResStatus, Error: corosync.ErrNotExist},
	}
	for name, b := range resp {
		got, err := DecodeResponse(b, reqs[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w, ok := want[name]; ok && !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %+v, want %+v", name, got, w)
		}
		var enc []byte
		if name == "reject" {
			enc = AppendReject(nil, got.Error)
		} else if enc, err = AppendResponse(nil, reqs[name], got.Error, got.Info); err != nil {
			t.Fatal(err)
		}
		if len(enc) != len(b) {
			t.Errorf("%s: encoded %d bytes, daemon sent %d", name, len(enc), len(b))
		}
		if got.Error == corosync.OK {
			for _, pad := range padding(got.ID, len(b)) {
				enc[pad] = b[pad]
			}
			if !bytes.Equal(enc, b) {
				t.Errorf("%s: encoded\n%x\ndaemon sent\n%x", name, enc, b)
			}
		}
		again, err := DecodeResponse(enc, reqs[name])
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%s: round trip %+v %v", name, again, err)
		}
	}
	// A status reply is not a getinfo answer (unless it is an error), and
	// a getinfo answer is not a status reply.
	if _, err := DecodeResponse(resp["status_ok"], ReqGetInfo); err == nil || !strings.Contains(err.Error(), "field id") {
		t.Errorf("status_ok as getinfo: %v", err)
	}
	if _, err := DecodeResponse(resp["getinfo_local"], ReqSetVotes); err == nil || !errors.Is(err, corosync.ErrMessageError) {
		t.Errorf("getinfo as setvotes answer: %v", err)
	}
}

// Every truncation of every real message is rejected, as cut and with the
// size field patched to the cut length.
func TestTruncationsRejected(t *testing.T) {
	evs, _ := seeds(t, "FuzzDecodeEvent")
	for name, b := range evs {
		for n := 0; n < len(b); n++ {
			cut := append([]byte(nil), b[:n]...)
			if _, err := DecodeEvent(cut); err == nil {
				t.Errorf("%s cut to %d bytes: accepted", name, n)
			}
			if n >= 16 {
				le.PutUint32(cut[8:], uint32(n))
				if _, err := DecodeEvent(cut); err == nil {
					t.Errorf("%s cut to %d bytes with size patched: accepted", name, n)
				} else if !errors.Is(err, corosync.ErrMessageError) {
					t.Errorf("%s: %v is not ErrMessageError", name, err)
				}
			}
		}
	}
	resp, reqs := seeds(t, "FuzzDecodeResponse")
	for _, name := range []string{"getinfo_local", "getinfo_unknown"} {
		b := resp[name]
		for n := 0; n < len(b); n++ {
			cut := append([]byte(nil), b[:n]...)
			if n >= 16 {
				le.PutUint32(cut[8:], uint32(n))
			}
			if _, err := DecodeResponse(cut, reqs[name]); err == nil {
				t.Errorf("%s cut to %d: accepted", name, n)
			}
		}
	}
	for id := ReqGetInfo; id <= ReqQdeviceMasterWins; id++ {
		b, err := AppendRequest(nil, sample(id))
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n++ {
			cut := append([]byte(nil), b[:n]...)
			if n >= 16 {
				le.PutUint32(cut[8:], uint32(n))
			}
			if _, err := DecodeRequest(cut); err == nil {
				t.Errorf("request %s cut to %d: accepted", RequestName(id), n)
			}
		}
	}
}

func TestAbsurdListLengths(t *testing.T) {
	evs, _ := seeds(t, "FuzzDecodeEvent")
	for name, off := range map[string]int{"quorum3": 40, "nodelist3": 48} {
		for _, n := range []uint32{4, 1 << 30, 0xffffffff} {
			b := append([]byte(nil), evs[name]...)
			le.PutUint32(b[off:], n)
			if _, err := DecodeEvent(b); err == nil || !strings.Contains(err.Error(), "node_list_entries") {
				t.Errorf("%s with %d entries: %v", name, n, err)
			}
		}
	}
}

func TestUnknownEvent(t *testing.T) {
	b := AppendReject(nil, corosync.OK)
	le.PutUint32(b[0:], 8) // no daemon has it
	e, err := DecodeEvent(b)
	if err != nil || e.Known() || e.ID != 8 {
		t.Fatalf("unknown event: %+v %v", e, err)
	}
	if _, err := AppendEvent(nil, e); err == nil {
		t.Fatal("encoded an unknown event")
	}
	le.PutUint32(b[8:], 99) // but a broken header is still an error
	if _, err := DecodeEvent(b); !errors.Is(err, corosync.ErrMessageError) {
		t.Fatalf("broken header: %v", err)
	}
}

func sample(id int32) Request {
	return Request{ID: id, NodeID: 2, Votes: 3, ExpectedVotes: 4, Context: 0x1122334455667788, TrackFlags: TrackChanges,
		Name: "dev", NewName: "dev2", CastVote: true, Ring: RingID{NodeID: 1, Seq: 0xabcdef0123}, Allow: true,
		ExtraInfo: []byte("extra")}
}

// The layouts of SPEC.md, byte by byte.
func TestRequestLayouts(t *testing.T) {
	hex := func(b []byte, off, n int) uint64 {
		var v uint64
		for i := n - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[off+i])
		}
		return v
	}
	for id := ReqGetInfo; id <= ReqQdeviceGetExtraInfo; id++ {
		r := sample(id)
		b, err := AppendRequest(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		size := RequestSize(id)
		if id == ReqQdeviceSetExtraInfo {
			size += len(r.ExtraInfo)
		}
		if len(b) != size || hex(b, 0, 4) != uint64(id) || hex(b, 8, 4) != uint64(len(b)) {
			t.Fatalf("%s: header %x", RequestName(id), b[:16])
		}
		got, err := DecodeRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		// Only the fields of this request survive.
		want := Request{ID: id}
		switch id {
		case ReqGetInfo:
			want.NodeID = 2
			if hex(b, 16, 4) != 2 {
				t.Error("getinfo nodeid@16")
			}
		case ReqSetExpected:
			want.ExpectedVotes = 4
		case ReqSetVotes:
			want.Votes, want.NodeID = 3, 2
			if hex(b, 16, 4) != 3 || hex(b, 20, 4) != 2 {
				t.Error("setvotes: votes@16, nodeid@20")
			}
		case ReqTrackStart:
			want.Context, want.TrackFlags = r.Context, r.TrackFlags
			if hex(b, 16, 8) != r.Context || hex(b, 24, 4) != 2 {
				t.Error("trackstart: context@16, flags@24")
			}
		case ReqQdeviceRegister, ReqQdeviceUnregister:
			want.Name = "dev"
		case ReqQdeviceUpdate:
			want.Name, want.NewName = "dev", "dev2"
			if string(b[271:275]) != "dev2" {
				t.Error("update: newname@271")
			}
		case ReqQdevicePoll:
			want.Name, want.CastVote, want.Ring = "dev", true, r.Ring
			if hex(b, 272, 4) != 1 || hex(b, 280, 4) != 1 || hex(b, 288, 8) != r.Ring.Seq {
				t.Error("poll: cast_vote@272, ring@280/288")
			}
		case ReqQdeviceMasterWins:
			want.Name, want.Allow = "dev", true
			if hex(b, 272, 4) != 1 {
				t.Error("master_wins: allow@272")
			}
		case ReqQdeviceSetExtraInfo:
			// main's libvotequorum: size 24 plus the data, ei_size@16,
			// the data@20, 4 bytes after it.
			want.ExtraInfo = []byte("extra")
			if hex(b, 16, 4) != 5 || string(b[20:25]) != "extra" || len(b) != 24+5 {
				t.Errorf("set_extra_info: ei_size@16, data@20, size 29: %x", b)
			}
		case ReqQdeviceGetExtraInfo:
			want.NodeID = 2
			if hex(b, 16, 4) != 2 || len(b) != 24 {
				t.Error("get_extra_info: nodeid@16, size 24")
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, want %+v", RequestName(id), got, want)
		}
	}
	if r, err := DecodeRequest(mustHeader(42, 16)); err != nil || r.ID != 42 {
		t.Errorf("unknown request id: %+v %v", r, err)
	}
}

func mustHeader(id int32, size int) []byte {
	b := make([]byte, size)
	le.PutUint32(b[0:], uint32(id))
	le.PutUint32(b[8:], uint32(size))
	return b
}

func TestEncoderRefusals(t *testing.T) {
	long := strings.Repeat("q", MaxNameLen+1)
	cases := []struct {
		r     Request
		code  corosync.Error
		field string
	}{
		{Request{ID: ReqQdeviceRegister, Name: long}, corosync.ErrNameTooLong, "field name"},
		{Request{ID: ReqQdeviceRegister, Name: ""}, corosync.ErrInvalidParam, "field name"},
		{Request{ID: ReqQdeviceUnregister, Name: "a\x00b"}, corosync.ErrInvalidParam, "field name"},
		{Request{ID: ReqQdevicePoll, Name: long}, corosync.ErrNameTooLong, "field name"},
		{Request{ID: ReqQdeviceMasterWins, Name: long}, corosync.ErrNameTooLong, "field name"},
		{Request{ID: ReqQdeviceUpdate, Name: long, NewName: "x"}, corosync.ErrNameTooLong, "field oldname"},
		{Request{ID: ReqQdeviceUpdate, Name: "x", NewName: long}, corosync.ErrNameTooLong, "field newname"},
		{Request{ID: ReqSetExpected, ExpectedVotes: 0}, corosync.ErrInvalidParam, "field expected_votes"},
		{Request{ID: ReqSetExpected, ExpectedVotes: MaxVotes + 1}, corosync.ErrInvalidParam, "field expected_votes"},
		{Request{ID: ReqSetVotes, Votes: MaxVotes + 1}, corosync.ErrInvalidParam, "field votes"},
		{Request{ID: ReqQdeviceSetExtraInfo, ExtraInfo: make([]byte, MaxExtraInfo+1)}, corosync.ErrInvalidParam, "field extra_info: 4097 bytes"},
		{Request{ID: 12}, corosync.ErrInvalidParam, "unknown request id"},
	}
	for _, c := range cases {
		b, err := AppendRequest([]byte{1}, c.r)
		if !errors.Is(err, c.code) || !strings.Contains(err.Error(), c.field) || len(b) != 1 {
			t.Errorf("%+v: %v (dst %d bytes)", c.r.ID, err, len(b))
		}
	}
	if _, err := AppendRequest(nil, Request{ID: ReqQdeviceRegister, Name: long[1:]}); err != nil {
		t.Errorf("254-byte name: %v", err)
	}
	if _, err := AppendResponse(nil, ReqGetInfo, corosync.OK, Info{QdeviceName: long}); !errors.Is(err, corosync.ErrNameTooLong) {
		t.Errorf("response with a long name: %v", err)
	}
	if _, err := AppendEvent(nil, Event{ID: EvQuorum, Nodes: make([]Node, MaxQuorumNodes+1)}); err == nil {
		t.Error("quorum event with 387 nodes")
	}
	if _, err := AppendEvent(nil, Event{ID: EvNodelist, Members: make([]uint32, MaxNodelistNodes+1)}); err == nil {
		t.Error("nodelist event with 385 nodes")
	}
}

func TestNameWithoutNUL(t *testing.T) {
	b, _ := AppendRequest(nil, Request{ID: ReqQdeviceUpdate, Name: "a", NewName: "b"})
	for i := 271; i < 271+NameFieldSize; i++ {
		b[i] = 'x'
	}
	if _, err := DecodeRequest(b); err == nil || !strings.Contains(err.Error(), "field newname") {
		t.Errorf("update with unterminated newname: %v", err)
	}
	resp, _ := AppendResponse(nil, ReqGetInfo, corosync.OK, Info{})
	for i := 60; i < 60+NameFieldSize; i++ {
		resp[i] = 'x'
	}
	if _, err := DecodeResponse(resp, ReqGetInfo); err == nil || !strings.Contains(err.Error(), "qdevice_name") {
		t.Errorf("getinfo with unterminated qdevice_name: %v", err)
	}
}

func TestFlagsString(t *testing.T) {
	cases := map[Flags]string{
		0:                               "",
		FlagQuorate:                     "Quorate",
		FlagTwoNode | FlagQuorate:       "2Node Quorate",
		FlagQuorate | FlagQdeviceAlive:  "Quorate QdeviceAlive",
		0x3ff:                           "2Node Quorate WaitForAll LastManStanding AutoTieBreaker AllowDownscale Qdevice QdeviceAlive QdeviceCastVote QdeviceMasterWins",
		FlagQuorate | 0x800 | 0x8000000: "Quorate 0x8000800",
		0x800:                           "0x800",
		FlagQdeviceHasExtraInfo:         "QdeviceHasExtraInfo",
	}
	for f, want := range cases {
		if got := f.String(); got != want {
			t.Errorf("Flags(%#x) = %q, want %q", uint32(f), got, want)
		}
	}
	if NodeState(0).String() != "state(0)" || NodeStateDead.String() != "dead" {
		t.Error("NodeState names")
	}
}

func FuzzDecodeEvent(f *testing.F) {
	evs, _ := seeds(f, "FuzzDecodeEvent")
	for _, b := range evs {
		f.Add(b)
	}
	for _, data := range []string{"", "x", strings.Repeat("e", MaxExtraInfo)} {
		b, _ := AppendEvent(nil, Event{ID: EvExtraInfo, Context: 7, NodeID: 2, ExtraInfo: []byte(data)})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			if !errors.Is(err, corosync.ErrMessageError) {
				t.Fatalf("error %v is not ErrMessageError", err)
			}
			return
		}
		if 8*len(e.Nodes)+4*len(e.Members) > len(b) {
			t.Fatalf("decoded %d+%d entries from %d bytes", len(e.Nodes), len(e.Members), len(b))
		}
		enc, err := AppendEvent(nil, e)
		if err != nil {
			if !e.Known() || len(e.Nodes) > MaxQuorumNodes || len(e.Members) > MaxNodelistNodes {
				return
			}
			t.Fatal(err)
		}
		again, err := DecodeEvent(enc)
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip: %+v vs %+v (%v)", again, e, err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	resp, reqs := seeds(f, "FuzzDecodeResponse")
	for name, b := range resp {
		f.Add(b, reqs[name])
	}
	for _, data := range []string{"", "x", strings.Repeat("e", MaxExtraInfo)} {
		b, _ := AppendExtraInfoResponse(nil, corosync.OK, []byte(data))
		f.Add(b, ReqQdeviceGetExtraInfo)
	}
	b, _ := AppendExtraInfoResponse(nil, corosync.ErrAccess, nil)
	f.Add(b, ReqQdeviceGetExtraInfo)
	f.Fuzz(func(t *testing.T, b []byte, req int32) {
		r, err := DecodeResponse(b, req)
		if err != nil {
			if !errors.Is(err, corosync.ErrMessageError) {
				t.Fatalf("error %v is not ErrMessageError", err)
			}
			return
		}
		if r.ID == ResGetExtraInfo && r.Error == corosync.OK {
			enc, err := AppendExtraInfoResponse(nil, r.Error, r.ExtraInfo)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeResponse(enc, req)
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("round trip: %+v vs %+v (%v)", again, r, err)
			}
		}
		if r.ID == ResGetInfo && r.Error == corosync.OK {
			enc, err := AppendResponse(nil, req, r.Error, r.Info)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeResponse(enc, req)
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("round trip: %+v vs %+v (%v)", again, r, err)
			}
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	for id := ReqGetInfo; id <= ReqQdeviceGetExtraInfo+1; id++ {
		b, err := AppendRequest(nil, sample(id))
		if err != nil {
			b = mustHeader(id, 16)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			if !errors.Is(err, corosync.ErrMessageError) {
				t.Fatalf("error %v is not ErrMessageError", err)
			}
			return
		}
		if len(b) < RequestSize(r.ID) {
			t.Fatalf("accepted %+v from %d bytes", r, len(b))
		}
		if RequestSize(r.ID) == 0 {
			return
		}
		enc, err := AppendRequest(nil, r)
		if err != nil {
			return // names or vote counts the encoder refuses
		}
		again, err := DecodeRequest(enc)
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip: %+v vs %+v (%v)", again, r, err)
		}
	})
}

// main's extra info messages, as its headers lay them out (measured with
// offsetof against corosync main's ipc_votequorum.h), and the decoders'
// refusals of sizes the daemon never sends.
func TestExtraInfoLayouts(t *testing.T) {
	b, err := AppendExtraInfoResponse(nil, corosync.OK, []byte("abc"))
	if err != nil || len(b) != 35 || le.Uint32(b[0:]) != 6 || le.Uint32(b[24:]) != 3 || string(b[28:31]) != "abc" {
		t.Fatalf("get_extra_info response %x %v", b, err)
	}
	r, err := DecodeResponse(b, ReqQdeviceGetExtraInfo)
	if err != nil || string(r.ExtraInfo) != "abc" || r.ID != ResGetExtraInfo {
		t.Fatalf("decoded %+v %v", r, err)
	}
	// An error answer's ei_size is garbage: ignored.
	b, _ = AppendExtraInfoResponse(nil, corosync.ErrNotExist, nil)
	le.PutUint32(b[24:], 0xdeadbeef)
	if r, err := DecodeResponse(b, ReqQdeviceGetExtraInfo); err != nil || r.Error != corosync.ErrNotExist || r.ExtraInfo != nil {
		t.Fatalf("error answer: %+v %v", r, err)
	}
	// ei_size must account for the message exactly.
	b, _ = AppendExtraInfoResponse(nil, corosync.OK, []byte("abc"))
	le.PutUint32(b[24:], 4)
	if _, err := DecodeResponse(b, ReqQdeviceGetExtraInfo); err == nil || !strings.Contains(err.Error(), "ei_size") {
		t.Fatalf("ei_size past the data: %v", err)
	}
	// The generic reject of a daemon without the request decodes as one.
	if r, err := DecodeResponse(AppendReject(nil, corosync.ErrInvalidParam), ReqQdeviceGetExtraInfo); err != nil || r.Error != corosync.ErrInvalidParam {
		t.Fatalf("generic reject: %+v %v", r, err)
	}

	ev, err := AppendEvent(nil, Event{ID: EvExtraInfo, Context: 9, NodeID: 3, ExtraInfo: []byte("hi")})
	if err != nil || len(ev) != 50 || le.Uint64(ev[24:]) != 9 || le.Uint32(ev[32:]) != 3 || le.Uint32(ev[40:]) != 2 || string(ev[48:]) != "hi" {
		t.Fatalf("extra info notification %x %v", ev, err)
	}
	e, err := DecodeEvent(ev)
	if err != nil || !e.Known() || e.NodeID != 3 || string(e.ExtraInfo) != "hi" || e.Context != 9 {
		t.Fatalf("decoded %+v %v", e, err)
	}
	for _, n := range []uint32{3, MaxExtraInfo + 1, 0xffffffff} {
		bad := append([]byte(nil), ev...)
		le.PutUint32(bad[40:], n)
		if _, err := DecodeEvent(bad); err == nil || !strings.Contains(err.Error(), "ei_size") {
			t.Errorf("notification with ei_size %d: %v", n, err)
		}
	}

	req, _ := AppendRequest(nil, Request{ID: ReqQdeviceSetExtraInfo, ExtraInfo: []byte("abc")})
	for _, n := range []uint32{8, MaxExtraInfo + 1} {
		bad := append([]byte(nil), req...)
		le.PutUint32(bad[16:], n)
		if _, err := DecodeRequest(bad); err == nil || !strings.Contains(err.Error(), "ei_size") {
			t.Errorf("set_extra_info with ei_size %d: %v", n, err)
		}
	}
	if _, err := AppendEvent(nil, Event{ID: EvExtraInfo, ExtraInfo: make([]byte, MaxExtraInfo+1)}); err == nil {
		t.Error("notification with 4097 bytes")
	}
}
