package wire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
)

// The libqb message headers shared by every corosync service. Each int32
// field is aligned to 8 bytes (struct qb_ipc_request_header and
// qb_ipc_response_header in libqb's include/qb/qbipc_common.h).

// PutRequestHeader writes a request header into b[:16]: id, and the size
// len(b). b must hold the whole request.
func PutRequestHeader(b []byte, id int32) {
	le.PutUint32(b[0:], uint32(id))
	le.PutUint32(b[4:], 0)
	le.PutUint32(b[8:], uint32(len(b)))
	le.PutUint32(b[12:], 0)
}

// RequestHeader is the 16-byte libqb request header.
type RequestHeader struct {
	ID   int32
	Size int32
}

// DecodeRequestHeader decodes the header of a request and checks that its
// size field matches the buffer. msg names the message in errors.
func DecodeRequestHeader(b []byte, msg string) (RequestHeader, error) {
	if len(b) < RequestHeaderSize {
		return RequestHeader{}, Errorf(msg, "header", "need %d bytes, have %d", RequestHeaderSize, len(b))
	}
	h := RequestHeader{ID: int32(le.Uint32(b[0:])), Size: int32(le.Uint32(b[8:]))}
	if int(h.Size) != len(b) {
		return h, Errorf(msg, "size", "header says %d bytes, message has %d", h.Size, len(b))
	}
	return h, nil
}

// PutResponseHeader writes a response (or event) header into b[:24]: id,
// the size len(b), and the error code. b must hold the whole message.
func PutResponseHeader(b []byte, id int32, code corosync.Error) {
	le.PutUint32(b[0:], uint32(id))
	le.PutUint32(b[4:], 0)
	le.PutUint32(b[8:], uint32(len(b)))
	le.PutUint32(b[12:], 0)
	le.PutUint32(b[16:], uint32(code))
	le.PutUint32(b[20:], 0)
}

// Errorf returns a *DecodeError for field of message msg.
func Errorf(msg, field, format string, args ...any) error {
	return &DecodeError{Msg: msg, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// Grow appends n zero bytes to dst and returns the longer slice and the
// appended part.
func Grow(dst []byte, n int) ([]byte, []byte) {
	off := len(dst)
	dst = append(dst, make([]byte, n)...)
	return dst, dst[off:]
}
