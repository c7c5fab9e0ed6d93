// Package wire holds what every corosync service's messages share: libqb's
// request and response headers, the table of a service's request ids with
// the release that defined each, and the decoding error type. The codecs of
// the services are its subpackages (quorumwire, vqwire, cfgwire, cmapwire,
// cpgwire).
//
// Every message starts with a libqb header whose int32 fields are each
// aligned to 8 bytes: requests have a 16-byte header {id@0, size@8},
// responses and events a 24-byte header {id@0, size@8, error@16}.
package wire

import (
	"encoding/binary"

	corosync "github.com/corosync-go/corosync"
)

var le = binary.LittleEndian

// Sizes of libqb's headers.
const (
	RequestHeaderSize  = 16
	ResponseHeaderSize = 24
)

// DecodeError reports a message that does not fit its layout. Field names the
// offending field; Code is corosync.ErrMessageError.
type DecodeError struct {
	Msg    string // which message was being decoded
	Field  string // which field is wrong
	Detail string
}

// Error names the message, the field and what is wrong with it.
func (e *DecodeError) Error() string {
	return "decode " + e.Msg + ": field " + e.Field + ": " + e.Detail
}

// Unwrap lets errors.Is(err, corosync.ErrMessageError) match.
func (e *DecodeError) Unwrap() error { return corosync.ErrMessageError }

// ResponseHeader is the 24-byte libqb response header.
type ResponseHeader struct {
	ID    int32
	Size  int32
	Error corosync.Error
}

// DecodeResponseHeader decodes the header of a response or event and checks
// that its size field matches the buffer.
func DecodeResponseHeader(b []byte) (ResponseHeader, error) {
	const msg = "response"
	if len(b) < ResponseHeaderSize {
		return ResponseHeader{}, Errorf(msg, "header", "need %d bytes, have %d", ResponseHeaderSize, len(b))
	}
	h := ResponseHeader{
		ID:    int32(le.Uint32(b[0:])),
		Size:  int32(le.Uint32(b[8:])),
		Error: corosync.Error(int32(le.Uint32(b[16:]))),
	}
	if int(h.Size) != len(b) {
		return h, Errorf(msg, "size", "header says %d bytes, message has %d", h.Size, len(b))
	}
	return h, nil
}

// AppendReject appends the daemon's generic reject: id 0, size 24, the given code.
func AppendReject(dst []byte, code corosync.Error) []byte {
	off := len(dst)
	dst = append(dst, make([]byte, ResponseHeaderSize)...)
	PutResponseHeader(dst[off:], 0, code)
	return dst
}
