package cfgwire

import (
	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Event is a message on the event channel. corosync 3.1.7 sends only
// EvTestShutdown: Error is CS_OK for a shutdown request a tracker must
// answer, or CS_ERR_TIMEOUT for the notice sent after cfg.shutdown_timeout
// (which must not be answered).
type Event struct {
	ID    int32
	Error corosync.Error
	// Flags is the pending shutdown's flags (EvTestShutdown only).
	Flags ShutdownFlags
}

const eventSize = valueResponseSize

// DecodeEvent decodes an event. An id other than EvTestShutdown is
// returned in the Event (ID and Error) together with a *wire.DecodeError
// naming field id, so a client can log and skip it (libcfg fails its
// dispatch with CS_ERR_LIBRARY there).
func DecodeEvent(b []byte) (Event, error) {
	h, err := wire.DecodeResponseHeader(b)
	if err != nil {
		return Event{ID: h.ID, Error: h.Error}, err
	}
	e := Event{ID: h.ID, Error: h.Error}
	if h.ID != EvTestShutdown {
		return e, derr("cfg event", "id", "unknown event id %d", h.ID)
	}
	if len(b) < eventSize {
		return e, derr("testshutdown event", "size", "need %d bytes, have %d", eventSize, len(b))
	}
	e.Flags = ShutdownFlags(le.Uint32(b[24:]))
	return e, nil
}

// AppendEvent appends the encoding of e. EvTestShutdown is 32 bytes; any
// other id is written as a bare 24-byte header, so tests can check that a
// client survives events it does not know.
func AppendEvent(dst []byte, e Event) []byte {
	if e.ID != EvTestShutdown {
		dst, b := wire.Grow(dst, ResponseHeaderSize)
		wire.PutResponseHeader(b, e.ID, e.Error)
		return dst
	}
	dst, b := wire.Grow(dst, eventSize)
	wire.PutResponseHeader(b, e.ID, e.Error)
	le.PutUint32(b[24:], uint32(e.Flags))
	return dst
}
