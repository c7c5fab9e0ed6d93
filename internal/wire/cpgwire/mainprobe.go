package cpgwire

import (
	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// ResNull is corosync main's answer to the retired zero-copy requests 9-11
// (MESSAGE_RES_CPG_NULL, with CS_ERR_NOT_SUPPORTED). Releases define 14 as
// ZC_ALLOC's answer but answer ZC_FREE with id 0.
const ResNull int32 = 14

// AppendMainProbe appends the one request that tells corosync's main
// branch from every release: ZC_FREE (10) of server address 0 with map
// size 0. Every release since 2.x looks address 0 up among the zero-copy
// buffers of the connection, finds none (a mapping is never at 0), frees
// nothing and answers a bare header with id 0 and an error field it never
// sets. main answers ResNull with CS_ERR_NOT_SUPPORTED and does nothing.
func AppendMainProbe(dst []byte) []byte {
	dst, b := wire.Grow(dst, ZCFreeRequestSize)
	wire.PutRequestHeader(b, ReqZCFree)
	// map_size@16 and server_address@24 stay zero.
	return dst
}

// AppendMainProbeAnswer appends a daemon's answer to AppendMainProbe:
// main's ResNull with CS_ERR_NOT_SUPPORTED, or a release's bare header
// with id 0 and code in the error field it never sets.
func AppendMainProbeAnswer(dst []byte, main bool, code corosync.Error) []byte {
	id := int32(0)
	if main {
		id, code = ResNull, corosync.ErrNotSupported
	}
	dst, b := wire.Grow(dst, ResponseHeaderSize)
	wire.PutResponseHeader(b, id, code)
	return dst
}

// DecodeMainProbe reads the answer to AppendMainProbe: main is true for
// corosync main (ResNull). tryAgain is true for the daemon's generic
// TRY_AGAIN (id 0, send queue full), which a release's own answer may also
// read as, since it leaves the error field unset: ask again a bounded
// number of times, then take the daemon for a release. Any other id means
// requests and answers are no longer paired.
func DecodeMainProbe(b []byte) (main, tryAgain bool, err error) {
	h, err := wire.DecodeResponseHeader(b)
	if err != nil {
		return false, false, err
	}
	switch h.ID {
	case ResNull:
		return true, false, nil
	case 0:
		return false, h.Error == corosync.ErrTryAgain, nil
	}
	return false, false, wire.Errorf("cpg zc_free response", "id", "got %d, want %d (main) or 0 (a release)", h.ID, ResNull)
}
