package wire

import (
	"errors"
	"strings"
	"testing"

	corosync "github.com/corosync-go/corosync"
)

func TestHeadersRoundTrip(t *testing.T) {
	req := make([]byte, 40)
	PutRequestHeader(req, 7)
	h, err := DecodeRequestHeader(req, "test request")
	if err != nil || h.ID != 7 || int(h.Size) != len(req) {
		t.Fatalf("request header: %+v %v", h, err)
	}
	resp := make([]byte, 32)
	PutResponseHeader(resp, 3, corosync.ErrTryAgain)
	rh, err := DecodeResponseHeader(resp)
	if err != nil || rh.ID != 3 || int(rh.Size) != len(resp) || rh.Error != corosync.ErrTryAgain {
		t.Fatalf("response header: %+v %v", rh, err)
	}
	rej := AppendReject(nil, corosync.ErrInvalidParam)
	if rh, err := DecodeResponseHeader(rej); err != nil || rh.ID != 0 || rh.Size != ResponseHeaderSize || rh.Error != corosync.ErrInvalidParam {
		t.Fatalf("reject: %+v %v", rh, err)
	}
}

// Bad headers fail naming the field, as a corosync.ErrMessageError.
func TestHeadersRejected(t *testing.T) {
	for _, c := range []struct {
		b     []byte
		field string
	}{
		{make([]byte, 10), "header"},
		{AppendReject(nil, corosync.OK)[:20], "header"},
		{append(AppendReject(nil, corosync.OK), 0), "size"},
	} {
		_, err := DecodeResponseHeader(c.b)
		var de *DecodeError
		if !errors.As(err, &de) || de.Field != c.field || !errors.Is(err, corosync.ErrMessageError) || !strings.Contains(err.Error(), "field "+c.field) {
			t.Errorf("%d bytes: %v; want a DecodeError on field %s", len(c.b), err, c.field)
		}
	}
}

func FuzzDecodeHeaders(f *testing.F) {
	f.Add(AppendReject(nil, corosync.ErrTryAgain))
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := DecodeResponseHeader(b); err == nil && int(h.Size) != len(b) {
			t.Fatalf("accepted a response header of size %d for %d bytes", h.Size, len(b))
		}
		if h, err := DecodeRequestHeader(b, "fuzz"); err == nil && int(h.Size) != len(b) {
			t.Fatalf("accepted a request header of size %d for %d bytes", h.Size, len(b))
		}
	})
}
