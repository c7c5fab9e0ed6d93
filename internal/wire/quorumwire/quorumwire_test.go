package quorumwire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Live dumps from corosync 3.1.7, captured on a real daemon by this project:
// Appendix A): single node, ring 1.5, member {1}. Padding and trailing words
// hold the garbage the daemon leaves there.
const (
	dumpNodelist = "07000000 00000000 | 44000000 00000000 | 01000000 00000000 | 01000000 00000000 | 05000000 00000000 | 01000000 00000000 | 00000000 00000000 | 00000000 01000000 | 00000000"
	dumpV1Quorum = "06000000 fd7f0000 | 3c000000 00000000 | 01000000 fd7f0000 | 01000000 fd7f0000 | 01000000 00000000 | 05000000 00000000 | 01000000 01000000 | 01000000"
	dumpV0       = "03000000 00000000 | 34000000 00000000 | 01000000 00000000 | 01000000 fd7f0000 | 05000000 00000000 | 01000000 01000000 | fd7f0000"
	dumpQuorate  = "00000000 fd7f0000 | 20000000 00000000 | 01000000 00000000 | 01000000 fd7f0000"
	dumpGetType  = "04000000 00000000 | 20000000 00000000 | 01000000 00000000 | 01000000 00000000"
	dumpModel    = "05000000 00000000 | 20000000 00000000 | 01000000 00000000 | 01000000 00000000"
	dumpTrack    = "01000000 00000000 | 18000000 00000000 | 01000000 00000000"
	dumpReject   = "00000000 00000000 | 18000000 00000000 | 07000000 00000000"
)

func realEvents(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"nodelist": unhex(t, dumpNodelist),
		"v1quorum": unhex(t, dumpV1Quorum),
		"v0":       unhex(t, dumpV0),
	}
}

func TestDecodeRealEvents(t *testing.T) {
	ring := RingID{NodeID: 1, Seq: 5}
	want := map[string]Notification{
		"nodelist": {ID: EvV1NodelistNotification, Ring: ring, Members: []uint32{1}, Joined: []uint32{}, Left: []uint32{}},
		"v1quorum": {ID: EvV1QuorumNotification, Quorate: true, Ring: ring, Members: []uint32{1}},
		"v0":       {ID: EvNotification, Quorate: true, Ring: RingID{Seq: 5}, Members: []uint32{1}},
	}
	for name, b := range realEvents(t) {
		got, err := DecodeEvent(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s: got %+v, want %+v", name, got, want[name])
		}
		// Our encoder produces the same bytes except the garbage in padding.
		enc, err := AppendEvent(nil, got)
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) != len(b) {
			t.Errorf("%s: encoded %d bytes, daemon sent %d", name, len(enc), len(b))
		}
		again, err := DecodeEvent(enc)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%s: round trip: %+v, %v", name, again, err)
		}
	}
}

func TestDecodeRealResponses(t *testing.T) {
	cases := []struct {
		dump  string
		req   int32
		code  corosync.Error
		value uint32
	}{
		{dumpQuorate, ReqGetQuorate, corosync.OK, 1},
		{dumpGetType, ReqGetType, corosync.OK, 1},
		{dumpModel, ReqModelGetType, corosync.OK, 1},
		{dumpTrack, ReqTrackStart, corosync.OK, 0},
		{dumpReject, ReqGetType, corosync.ErrInvalidParam, 0},
	}
	for _, c := range cases {
		r, err := DecodeResponse(unhex(t, c.dump), c.req)
		if err != nil {
			t.Fatalf("req %d: %v", c.req, err)
		}
		if r.Error != c.code || r.Value != c.value {
			t.Errorf("req %d: got %+v", c.req, r)
		}
	}
	// A response with the wrong id is an error that names the field.
	_, err := DecodeResponse(unhex(t, dumpGetType), ReqGetQuorate)
	if err == nil || !strings.Contains(err.Error(), "field id") || !errors.Is(err, corosync.ErrMessageError) {
		t.Errorf("wrong id: %v", err)
	}
}

// Every truncation of every real message is rejected, both as cut (the size
// field then disagrees) and with the size field patched to the cut length (so
// the layout and list checks are what must catch it).
func TestTruncationsRejected(t *testing.T) {
	for name, b := range realEvents(t) {
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
					t.Errorf("%s: error %v is not ErrMessageError", name, err)
				}
			}
		}
	}
	resp := map[int32]string{ReqGetQuorate: dumpQuorate, ReqGetType: dumpGetType, ReqModelGetType: dumpModel, ReqTrackStart: dumpTrack}
	for req, d := range resp {
		b := unhex(t, d)
		for n := 0; n < len(b); n++ {
			cut := append([]byte(nil), b[:n]...)
			if _, err := DecodeResponse(cut, req); err == nil {
				t.Errorf("response %d cut to %d: accepted", req, n)
			}
			if n >= 16 {
				le.PutUint32(cut[8:], uint32(n))
				if _, err := DecodeResponse(cut, req); err == nil {
					t.Errorf("response %d cut to %d with size patched: accepted", req, n)
				}
			}
		}
	}
	for _, id := range []int32{ReqGetQuorate, ReqTrackStart, ReqTrackStop, ReqGetType, ReqModelGetType} {
		b := AppendRequest(nil, id, TrackChanges)
		for n := 0; n < len(b); n++ {
			if _, err := DecodeRequest(b[:n]); err == nil {
				t.Errorf("request %d cut to %d: accepted", id, n)
			}
		}
	}
}

func TestAbsurdListLengths(t *testing.T) {
	b := unhex(t, dumpNodelist)
	for _, off := range []int{40, 48, 56} {
		c := append([]byte(nil), b...)
		le.PutUint32(c[off:], 0xFFFFFFFF)
		_, err := DecodeEvent(c)
		if err == nil {
			t.Fatalf("list length at %d accepted", off)
		}
		field := map[int]string{40: "member_list_entries", 48: "joined_list_entries", 56: "left_list_entries"}[off]
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
	v1 := unhex(t, dumpV1Quorum)
	le.PutUint32(v1[48:], 1<<30)
	if _, err := DecodeEvent(v1); err == nil || !strings.Contains(err.Error(), "view_list_entries") {
		t.Errorf("v1 absurd view list: %v", err)
	}
}

func TestRequests(t *testing.T) {
	// Observed bytes of libquorum's trackstart(CS_TRACK_CHANGES): 24 bytes, id 1.
	b := AppendRequest(nil, ReqTrackStart, TrackChanges)
	want := unhex(t, "01000000 00000000 18000000 00000000 02000000 00000000")
	if !bytes.Equal(b, want) {
		t.Errorf("trackstart = %x", b)
	}
	if b := AppendRequest(nil, ReqGetQuorate, 0); !bytes.Equal(b, unhex(t, "00000000 00000000 10000000 00000000")) {
		t.Errorf("getquorate = %x", b)
	}
	r, err := DecodeRequest(AppendRequest(nil, ReqModelGetType, ModelV1))
	if err != nil || r.ID != ReqModelGetType || r.Arg != ModelV1 || r.Size != 24 {
		t.Errorf("model_gettype: %+v %v", r, err)
	}
}

func TestEncodeRefusesTooManyNodes(t *testing.T) {
	_, err := AppendEvent(nil, Notification{ID: EvV1QuorumNotification, Members: make([]uint32, MaxNodes+1)})
	if err == nil {
		t.Fatal("accepted 385 nodes")
	}
	if _, err := AppendEvent(nil, Notification{ID: 42}); err == nil {
		t.Fatal("accepted unknown id")
	}
}

func TestResponsesRoundTrip(t *testing.T) {
	for _, req := range []int32{ReqGetQuorate, ReqTrackStart, ReqTrackStop, ReqGetType, ReqModelGetType} {
		b := AppendResponse(nil, ResponseFor(req), corosync.OK, 1)
		r, err := DecodeResponse(b, req)
		if err != nil || r.Error != corosync.OK {
			t.Errorf("req %d: %+v %v", req, r, err)
		}
	}
	r, err := DecodeResponse(wire.AppendReject(nil, corosync.ErrTryAgain), ReqGetQuorate)
	if err != nil || r.Error != corosync.ErrTryAgain {
		t.Errorf("reject: %+v %v", r, err)
	}
}

func seedEvents(f *testing.F) {
	for _, b := range realEvents(f) {
		f.Add(b)
	}
	big, _ := AppendEvent(nil, Notification{ID: EvV1NodelistNotification, Ring: RingID{1, 9}, Members: []uint32{1, 2, 3}, Joined: []uint32{3}, Left: []uint32{4}})
	f.Add(big)
}

func FuzzDecodeEvent(f *testing.F) {
	seedEvents(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeEvent(b)
		if err != nil {
			if !errors.Is(err, corosync.ErrMessageError) {
				t.Fatalf("error %v is not ErrMessageError", err)
			}
			return
		}
		total := len(n.Members) + len(n.Joined) + len(n.Left)
		if 4*total > len(b) {
			t.Fatalf("decoded %d entries from %d bytes", total, len(b))
		}
		enc, err := AppendEvent(nil, n)
		if err != nil {
			if total > MaxNodes {
				return
			}
			t.Fatal(err)
		}
		again, err := DecodeEvent(enc)
		if err != nil || !reflect.DeepEqual(again, n) {
			t.Fatalf("round trip: %+v vs %+v (%v)", again, n, err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	for _, d := range []string{dumpQuorate, dumpGetType, dumpModel, dumpTrack, dumpReject} {
		f.Add(unhex(f, d), int32(0))
		f.Add(unhex(f, d), int32(3))
		f.Add(unhex(f, d), int32(4))
	}
	f.Fuzz(func(t *testing.T, b []byte, req int32) {
		r, err := DecodeResponse(b, req)
		if err != nil {
			if !errors.Is(err, corosync.ErrMessageError) {
				t.Fatalf("error %v is not ErrMessageError", err)
			}
			return
		}
		if int(r.Size) != len(b) {
			t.Fatalf("accepted size %d for %d bytes", r.Size, len(b))
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	for id := int32(-1); id < 6; id++ {
		f.Add(AppendRequest(nil, id, 2))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			if !errors.Is(err, corosync.ErrMessageError) {
				t.Fatalf("error %v is not ErrMessageError", err)
			}
			return
		}
		if int(r.Size) != len(b) || len(b) < RequestSize(r.ID) {
			t.Fatalf("accepted %+v from %d bytes", r, len(b))
		}
	})
}

// BenchmarkDecodeEvent: the per-event decoding cost, paid once per event
// whatever the number of subscribers.
func BenchmarkDecodeEvent(b *testing.B) {
	for name, msg := range realEvents(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := DecodeEvent(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
