package cpgwire

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
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
	want := map[string]Event{
		"confchg_join_self": {ID: EvConfchg, Group: "traits-join", Members: []Address{{1, 1001, 0}}, Left: []Address{}, Joined: []Address{{1, 1001, ReasonJoin}}},
		"confchg_crmd_nul":  {ID: EvConfchg, Group: "crmd\x00", Members: []Address{{2, 2001, 0}}, Left: []Address{}, Joined: []Address{{2, 2001, ReasonJoin}}},
		"confchg_leave":     {ID: EvConfchg, Group: "traits-leave", Members: []Address{{2, 2401, 0}}, Left: []Address{{1, 1401, ReasonLeave}}, Joined: []Address{}},
		"confchg_procdown":  {ID: EvConfchg, Group: "traits-leave", Members: []Address{{2, 2401, 0}}, Left: []Address{{1, 1401, ReasonProcDown}}, Joined: []Address{}},
		"deliver":           {ID: EvDeliver, Group: "traits-mcast", NodeID: 1, PID: 1101, Payload: []byte("hello, group")},
		"deliver_empty":     {ID: EvDeliver, Group: "traits-mcast", NodeID: 1, PID: 1102, Payload: []byte{}},
		"partial_first":     {ID: EvPartialDeliver, Group: "traits-mcast", NodeID: 1, PID: 1103, MsgLen: 5, Type: PartialFirst, Payload: []byte("abc")},
		"partial_last":      {ID: EvPartialDeliver, Group: "traits-mcast", NodeID: 1, PID: 1103, MsgLen: 5, Type: PartialLast, Payload: []byte("de")},
	}
	for name, b := range evs {
		e, err := DecodeEvent(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		t.Logf("%s: %v", name, e)
		if w, ok := want[name]; ok && !reflect.DeepEqual(e, w) {
			t.Errorf("%s: got %#v, want %#v", name, e, w)
		}
		switch {
		case e.ID == EvTotemConfchg:
			if len(b) != TotemConfchgEventSize+4*len(e.TotemMembers) || e.Ring.NodeID != 1 {
				t.Errorf("%s: %d bytes, %v", name, len(b), e)
			}
		case strings.HasPrefix(name, "confchg_nodedown"):
			if len(e.Left) != 2 || e.Left[0].Reason != ReasonNodeDown || e.Left[0].NodeID != 3 {
				t.Errorf("%s: %v", name, e)
			}
		}
		// Our encoding of the decoded event decodes to the same event, and
		// equals the capture except in padding (garbage from the daemon).
		enc, err := AppendEvent(nil, e)
		if err != nil {
			t.Errorf("%s: encode: %v", name, err)
			continue
		}
		if len(enc) != len(b) {
			t.Errorf("%s: encoded %d bytes, captured %d", name, len(enc), len(b))
		}
		if again, err := DecodeEvent(enc); err != nil || !reflect.DeepEqual(again, e) {
			t.Errorf("%s: round trip %v %v", name, again, err)
		}
	}
}

func TestDecodeRealResponses(t *testing.T) {
	resps, reqs := seeds(t, "FuzzDecodeResponse")
	want := map[string]Response{
		"local_get":          {ID: ResLocalGet, Error: corosync.OK, LocalNodeID: 1},
		"membership_empty":   {ID: ResMembership, Error: corosync.OK, Members: []Address{}},
		"membership_one":     {ID: ResMembership, Error: corosync.OK, Members: []Address{{1, 1001, 0}}},
		"membership_4":       {ID: ResMembership, Error: corosync.OK, Members: []Address{{2, 2001, 0}}},
		"membership_5":       {ID: ResMembership, Error: corosync.OK, Members: []Address{{2, 2001, 0}}},
		"reject":             {ID: ResReject, Error: corosync.ErrInvalidParam},
		"join_ok":            {ID: ResJoin, Error: corosync.OK},
		"join_exist":         {ID: ResJoin, Error: corosync.ErrExist},
		"join_name_too_long": {ID: ResJoin, Error: corosync.ErrNameTooLong},
		"leave_ok":           {ID: ResLeave, Error: corosync.OK},
		"leave_notexist":     {ID: ResLeave, Error: corosync.ErrNotExist},
		"partial_ok":         {ID: ResPartialSend, Error: corosync.OK},
		"partial_notexist":   {ID: ResPartialSend, Error: corosync.ErrNotExist},
		"iter_next_end":      {ID: ResIterNext, Error: corosync.ErrNoSections},
		"iter_next_bad":      {ID: ResIterNext, Error: corosync.ErrLibrary},
		"iter_finalize":      {ID: ResIterFinalize, Error: corosync.OK},
		"iter_finalize_bad":  {ID: ResIterFinalize, Error: corosync.ErrLibrary},
		"finalize":           {ID: ResFinalize, Error: corosync.OK},
	}
	for name, b := range resps {
		r, err := DecodeResponse(b, reqs[name])
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if w, ok := want[name]; ok && !reflect.DeepEqual(r, w) {
			t.Errorf("%s: got %+v, want %+v", name, r, w)
		}
		if len(b) != ResponseSize(r.ID) {
			t.Errorf("%s: %d bytes, want %d", name, len(b), ResponseSize(r.ID))
		}
		if r.ID == ResReject && reqs[name] >= 13 {
			continue
		}
		enc, err := AppendResponse(nil, reqs[name], r)
		if err != nil {
			t.Errorf("%s: encode: %v", name, err)
			continue
		}
		if again, err := DecodeResponse(enc, reqs[name]); err != nil || !reflect.DeepEqual(again, r) {
			t.Errorf("%s: round trip %+v %v", name, again, err)
		}
	}
	// The membership reply is always 9248 bytes; an iteration entry names
	// the group.
	if r, _ := DecodeResponse(resps["iter_next"], ReqIterNext); r.Entry.Group == "" || r.Entry.NodeID == 0 {
		t.Errorf("iter_next: %+v", r)
	}
}

// TestCapturedRequests: the seeds of FuzzDecodeRequest are our encoder's
// bytes as the daemon accepted them; they decode and re-encode identically.
func TestCapturedRequests(t *testing.T) {
	reqs, _ := seeds(t, "FuzzDecodeRequest")
	for name, b := range reqs {
		r, err := DecodeRequest(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		enc, err := AppendRequest(nil, r)
		if err != nil || !bytes.Equal(enc, b) {
			t.Errorf("%s: re-encoding %+v: %v\n%x\n%x", name, r, err, enc, b)
		}
	}
}

func TestRequestLayouts(t *testing.T) {
	b, err := AppendRequest(nil, Request{ID: ReqJoin, Group: "grp", PID: 0x1234, Flags: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 168 || le.Uint32(b[8:]) != 168 || le.Uint32(b[16:]) != 3 || string(b[24:27]) != "grp" || le.Uint32(b[152:]) != 0x1234 || le.Uint32(b[160:]) != 1 {
		t.Errorf("join: %x", b)
	}
	b, _ = AppendRequest(nil, Request{ID: ReqMcast, Guarantee: GuaranteeAgreed, Payload: []byte("abcdefgh")})
	if len(b) != 48 || le.Uint32(b[0:]) != 2 || le.Uint32(b[8:]) != 48 || le.Uint32(b[24:]) != 2 || le.Uint32(b[32:]) != 8 || string(b[40:]) != "abcdefgh" {
		t.Errorf("mcast: %x", b)
	}
	b, _ = AppendRequest(nil, Request{ID: ReqPartialMcast, MsgLen: 1047567, Type: PartialFirst, Payload: make([]byte, 10)})
	if len(b) != 66 || le.Uint32(b[32:]) != 1047567 || le.Uint32(b[40:]) != 10 || le.Uint32(b[48:]) != 1 {
		t.Errorf("partial: %x", b)
	}
	b, _ = AppendRequest(nil, Request{ID: ReqIterInitialize, IterType: IterOneGroup, Group: "g"})
	if len(b) != 160 || le.Uint32(b[152:]) != 2 || le.Uint32(b[16:]) != 1 {
		t.Errorf("iteration init: %x", b)
	}
	for id := int32(0); id <= ReqPartialMcast; id++ {
		if RequestSize(id) == 0 {
			t.Errorf("request %d has no size", id)
		}
	}
}

func TestEncoderRefuses(t *testing.T) {
	long := Name(strings.Repeat("n", MaxNameLen+1))
	for _, c := range []struct {
		r    Request
		code corosync.Error
	}{
		{Request{ID: ReqJoin, Group: long}, corosync.ErrNameTooLong},
		{Request{ID: ReqJoin, Group: ""}, corosync.ErrInvalidParam},
		{Request{ID: ReqJoin, Group: "a\x00b"}, corosync.ErrInvalidParam},
		{Request{ID: ReqJoin, Group: "g", Flags: 2}, corosync.ErrInvalidParam},
		{Request{ID: ReqLeave, Group: long}, corosync.ErrNameTooLong},
		{Request{ID: ReqMembership, Group: ""}, corosync.ErrInvalidParam},
		{Request{ID: ReqMcast, Payload: make([]byte, MaxMcastPayload+1)}, corosync.ErrTooBig},
		{Request{ID: ReqMcast, Guarantee: 4}, corosync.ErrInvalidParam},
		{Request{ID: ReqPartialMcast, Type: 0, MsgLen: 1}, corosync.ErrInvalidParam},
		{Request{ID: ReqPartialMcast, Type: PartialFirst, MsgLen: 1, Payload: []byte("ab")}, corosync.ErrInvalidParam},
		{Request{ID: ReqPartialMcast, Type: PartialFirst, MsgLen: MaxFragment + 1, Payload: make([]byte, MaxFragment+1)}, corosync.ErrTooBig},
		{Request{ID: ReqIterInitialize, IterType: 0}, corosync.ErrInvalidParam},
		{Request{ID: ReqIterInitialize, IterType: IterAll, Group: "g"}, corosync.ErrInvalidParam},
		{Request{ID: ReqIterInitialize, IterType: IterOneGroup}, corosync.ErrInvalidParam},
		{Request{ID: ReqZCAlloc, MapSize: 100, Path: "/dev/shm/x"}, corosync.ErrNotSupported},
		{Request{ID: ReqZCExecute}, corosync.ErrNotSupported},
		{Request{ID: 13}, corosync.ErrInvalidParam},
	} {
		dst := []byte("keep")
		out, err := AppendRequest(dst, c.r)
		if !errors.Is(err, c.code) || string(out) != "keep" {
			t.Errorf("%s %+v: %v (%q), want %v", RequestName(c.r.ID), c.r.Group, err, out, c.code.Name())
		} else {
			t.Logf("%v", err)
		}
	}
	// Accepted edge cases: 128 bytes, Pacemaker's trailing NUL, an empty message.
	for _, r := range []Request{
		{ID: ReqJoin, Group: Name(strings.Repeat("n", MaxNameLen))},
		{ID: ReqJoin, Group: CNameOf(strings.Repeat("n", MaxNameLen-1))},
		{ID: ReqMcast},
		{ID: ReqMcast, Payload: make([]byte, MaxMcastPayload)},
		{ID: ReqPartialMcast, Type: PartialLast, MsgLen: 9},
	} {
		if _, err := AppendRequest(nil, r); err != nil {
			t.Errorf("%s: %v", RequestName(r.ID), err)
		}
	}
}

func TestDecodeRequestTrustedLengths(t *testing.T) {
	b, _ := AppendRequest(nil, Request{ID: ReqMcast, Payload: []byte("abc")})
	le.PutUint32(b[32:], 1000) // msglen beyond the message: the daemon would read past it
	if _, err := DecodeRequest(b); !errors.Is(err, corosync.ErrMessageError) {
		t.Errorf("mcast with a lying msglen: %v", err)
	}
	b, _ = AppendRequest(nil, Request{ID: ReqPartialMcast, Type: PartialFirst, MsgLen: 10, Payload: []byte("abc")})
	le.PutUint32(b[32:], 2) // fraglen > msglen
	if _, err := DecodeRequest(b); !errors.Is(err, corosync.ErrMessageError) {
		t.Errorf("fragment longer than its message: %v", err)
	}
	// A join with a name length over 128 decodes (the daemon answers
	// NAME_TOO_LONG) and says so.
	r, err := DecodeRequest(rawNameReq(ReqJoin, JoinRequestSize, 1000, 7))
	if err != nil || r.NameLength != 1000 || len(r.Group) != MaxNameLen || r.PID != 7 {
		t.Errorf("join with a long name: %+v %v", r, err)
	}
	unk := make([]byte, 16)
	le.PutUint32(unk[0:], 42)
	le.PutUint32(unk[8:], 16)
	if r, err := DecodeRequest(unk); err != nil || r.ID != 42 {
		t.Errorf("unknown id: %+v %v", r, err)
	}
	zc := make([]byte, ZCAllocRequestSize)
	le.PutUint32(zc[0:], uint32(ReqZCAlloc))
	le.PutUint32(zc[8:], ZCAllocRequestSize)
	le.PutUint64(zc[16:], 156)
	copy(zc[24:], "/dev/shm/corosync_zerocopy-F6Bswd")
	if r, err := DecodeRequest(zc); err != nil || r.MapSize != 156 || r.Path != "/dev/shm/corosync_zerocopy-F6Bswd" {
		t.Errorf("zc_alloc: %+v %v", r, err)
	}
}

func TestEventLayouts(t *testing.T) {
	// The probe's confchg: m=2, l=1, j=1; arrays member, left, joined.
	e := Event{ID: EvConfchg, Group: "g", Members: []Address{{1, 100, 0}, {3, 300, 0}}, Left: []Address{{2, 200, ReasonNodeDown}}, Joined: []Address{{3, 300, ReasonJoin}}}
	b, err := AppendEvent(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 184+24*4 || le.Uint32(b[160:]) != 2 || le.Uint32(b[168:]) != 1 || le.Uint32(b[176:]) != 1 ||
		le.Uint32(b[184+48:]) != 2 || le.Uint32(b[184+72:]) != 3 {
		t.Errorf("confchg: %x", b)
	}
	tc := Event{ID: EvTotemConfchg, Ring: RingID{1, 0x1c}, TotemMembers: []uint32{1, 2, 3}}
	b, _ = AppendEvent(nil, tc)
	if len(b) != 60 || le.Uint32(b[44:]) != 1 || le.Uint32(b[52:]) != 3 || le.Uint64(b[32:]) != 0x1c {
		t.Errorf("totem confchg: %x", b)
	}
	// Unknown ids decode to a skippable event.
	unk := AppendReject(nil, corosync.OK)
	le.PutUint32(unk[0:], 6)
	if ev, err := DecodeEvent(unk); err != nil || ev.Known() || ev.ID != 6 {
		t.Errorf("event 6: %+v %v", ev, err)
	}
	for _, bad := range []Event{
		{ID: EvConfchg, Group: "g", Members: make([]Address, MaxListEntries+1)},
		{ID: EvTotemConfchg, TotemMembers: make([]uint32, MaxListEntries+1)},
		{ID: EvDeliver, Group: ""},
		{ID: EvPartialDeliver, Group: "g", Type: 4},
		{ID: 99},
	} {
		if _, err := AppendEvent(nil, bad); err == nil {
			t.Errorf("encoded %v", bad)
		}
	}
}

func TestFragments(t *testing.T) {
	if f := Fragments(MaxAtomicMsgSize, 0); f != nil {
		t.Errorf("atomic message fragmented: %v", f)
	}
	f := Fragments(MaxAtomicMsgSize+15, 0)
	if len(f) != 2 || f[0] != (Fragment{0, MaxAtomicMsgSize, PartialFirst}) || f[1] != (Fragment{MaxAtomicMsgSize, 15, PartialLast}) {
		t.Errorf("%v", f)
	}
	f = Fragments(10, 3)
	types := []PartialType{}
	sum := 0
	for _, x := range f {
		types = append(types, x.Type)
		sum += x.Len
	}
	if sum != 10 || !slices.Equal(types, []PartialType{1, 2, 2, 3}) {
		t.Errorf("%v", f)
	}
}

func TestNameString(t *testing.T) {
	if s := CNameOf("crmd").String(); s != `crmd\x00` {
		t.Errorf("%q", s)
	}
	if err := Name("ok").Check("x"); err != nil {
		t.Error(err)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	evs, _ := seeds(f, "FuzzDecodeEvent")
	for _, b := range evs {
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
		if AddressSize*(len(e.Members)+len(e.Left)+len(e.Joined))+4*len(e.TotemMembers)+len(e.Payload) > len(b) {
			t.Fatalf("decoded more than %d bytes hold", len(b))
		}
		enc, err := AppendEvent(nil, e)
		if err != nil {
			return // unknown ids, lists or payloads the encoder refuses
		}
		again, err := DecodeEvent(enc)
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip: %+v vs %+v (%v)", again, e, err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	resps, reqs := seeds(f, "FuzzDecodeResponse")
	for name, b := range resps {
		f.Add(b, reqs[name])
	}
	f.Fuzz(func(t *testing.T, b []byte, req int32) {
		r, err := DecodeResponse(b, req)
		if err != nil {
			if !errors.Is(err, corosync.ErrMessageError) {
				t.Fatalf("error %v is not ErrMessageError", err)
			}
			return
		}
		if AddressSize*len(r.Members) > len(b) {
			t.Fatalf("%d members from %d bytes", len(r.Members), len(b))
		}
		if r.ID != ResponseFor(req) {
			return // a generic reject
		}
		enc, err := AppendResponse(nil, req, r)
		if err != nil {
			return
		}
		again, err := DecodeResponse(enc, req)
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip: %+v vs %+v (%v)", again, r, err)
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	reqs, _ := seeds(f, "FuzzDecodeRequest")
	for _, b := range reqs {
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
		if RequestSize(r.ID) == 0 {
			return
		}
		if len(b) < RequestSize(r.ID)+len(r.Payload) {
			t.Fatalf("accepted %+v from %d bytes", r, len(b))
		}
		if r.NameLength > MaxNameLen {
			return // the daemon answers NAME_TOO_LONG; the encoder refuses it
		}
		enc, err := AppendRequest(nil, r)
		if err != nil {
			return // names, types or zero-copy requests the encoder refuses
		}
		again, err := DecodeRequest(enc)
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip: %+v vs %+v (%v)", again, r, err)
		}
	})
}

// rawNameReq builds a join/membership-like request with an arbitrary name
// length field, which AppendRequest refuses to encode.
func rawNameReq(id int32, size int, nameLen uint32, pid uint32) []byte {
	b := make([]byte, size)
	le.PutUint32(b[0:], uint32(id))
	le.PutUint32(b[8:], uint32(size))
	le.PutUint32(b[16:], nameLen)
	for i := 0; i < MaxNameLen; i++ {
		b[24+i] = 'x'
	}
	if size > 152 {
		le.PutUint32(b[152:], pid)
	}
	return b
}

// TestDecodeEventInAllocs: a member decoding its own group's deliveries
// allocates nothing (the name is its own, the payload a subslice).
func TestDecodeEventInAllocs(t *testing.T) {
	b, err := AppendEvent(nil, Event{ID: EvDeliver, Group: "alloc", NodeID: 1, PID: 2, Payload: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	own := Name("alloc")
	var e Event
	if n := testing.AllocsPerRun(100, func() { e, err = DecodeEventIn(b, own) }); n != 0 || err != nil {
		t.Fatalf("%v allocations, err %v", n, err)
	}
	if e.Group != own || string(e.Payload) != "hello" {
		t.Fatalf("decoded %v", e)
	}
	if e, err := DecodeEventIn(b, "other"); err != nil || e.Group != "alloc" {
		t.Fatalf("another group: %v %v", e, err)
	}
}
