// Package cmapwire encodes and decodes the messages of corosync's cmap IPC
// service (include/corosync/ipc_cmap.h, corosync 3.1.7) in both directions:
// a client encodes requests and decodes responses and notifications, a fake
// daemon decodes requests and encodes responses and notifications.
//
// SPEC.md next to this file holds the layouts and daemon behaviour as
// measured on a real corosync 3.1.7.
//
// The request encoders are the safety gate for the daemon. They refuse,
// before anything is built, every argument corosync 3.1.7 cannot take
// safely or would reject anyway: key names outside its rules, values over
// its size limit or of the wrong length, and the requests known to corrupt
// or crash the daemon (a GET with a buffer smaller than the value on the
// stats map, a size-only GET on stats keys, exact tracking of string stats
// keys). AppendGet always offers a buffer that holds any value.
//
// Decoders check every length against the buffer and return a
// *wire.DecodeError naming the message and field; they never panic.
package cmapwire

import (
	"fmt"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Request ids (enum req_cmap_types).
const (
	ReqSet           int32 = 0
	ReqDelete        int32 = 1
	ReqGet           int32 = 2
	ReqAdjustInt     int32 = 3
	ReqIterInit      int32 = 4
	ReqIterNext      int32 = 5
	ReqIterFinalize  int32 = 6
	ReqTrackAdd      int32 = 7
	ReqTrackDelete   int32 = 8
	ReqSetCurrentMap int32 = 9
)

// Response and event ids (enum res_cmap_types). Each response has its
// request's id except SET_CURRENT_MAP (9 -> 10). The notification event is 9.
// A request the daemon does not know is answered with the generic reject:
// id 0, 24 bytes, CS_ERR_INVALID_PARAM.
const (
	ResSet           int32 = 0
	ResDelete        int32 = 1
	ResGet           int32 = 2
	ResAdjustInt     int32 = 3
	ResIterInit      int32 = 4
	ResIterNext      int32 = 5
	ResIterFinalize  int32 = 6
	ResTrackAdd      int32 = 7
	ResTrackDelete   int32 = 8
	EvNotify         int32 = 9
	ResSetCurrentMap int32 = 10
)

// TrackFlags select what a tracker reports (CMAP_TRACK_*).
type TrackFlags int32

// Track flags. TrackPrefix is request-only: it makes the key a prefix. A
// notification carries exactly one of TrackAdd, TrackDelete, TrackModify.
const (
	TrackDelete TrackFlags = 1
	TrackModify TrackFlags = 2
	TrackAdd    TrackFlags = 4
	TrackPrefix TrackFlags = 8

	trackAll = TrackDelete | TrackModify | TrackAdd | TrackPrefix
)

// String renders the flags as "add|delete|modify|prefix".
func (f TrackFlags) String() string {
	var p []string
	for _, x := range []struct {
		f TrackFlags
		n string
	}{{TrackAdd, "add"}, {TrackDelete, "delete"}, {TrackModify, "modify"}, {TrackPrefix, "prefix"}} {
		if f&x.f != 0 {
			p = append(p, x.n)
		}
	}
	if rest := f &^ trackAll; rest != 0 || len(p) == 0 {
		p = append(p, fmt.Sprintf("%#x", int32(rest)))
	}
	return strings.Join(p, "|")
}

// Map selects which map a connection works on (CMAP_SETMAP_*).
type Map int32

// The two maps.
const (
	MapICMap Map = 0 // configuration and runtime keys (the default)
	MapStats Map = 1 // statistics, generated on demand; read-only but stats.clear.*
)

// Limits of corosync 3.1.7.
const (
	// MaxKeyLen is the longest key name (CMAP_KEYNAME_MAXLEN).
	MaxKeyLen = 255
	// MinKeyLen is the shortest key name the daemon creates (CMAP_KEYNAME_MINLEN).
	MinKeyLen = 3
	// MaxValueLen is the largest value SET accepts (ICMAP_MAX_VALUE_LEN).
	MaxValueLen = 16384
	// MaxStringLen is the longest string AppendSet sends: it sends the
	// terminating NUL too, so the daemon's strlen stays inside the value.
	MaxStringLen = MaxValueLen - 1
	// GetBufferSize is the value buffer every GET offers: larger than any
	// value either map holds (the largest stored value is a 16384-byte
	// string plus its NUL), so the daemon never writes past it.
	GetBufferSize = MaxValueLen + 1
)

// Sizes of the fixed parts (x86_64).
const (
	RequestHeaderSize  = wire.RequestHeaderSize  // 16
	ResponseHeaderSize = wire.ResponseHeaderSize // 24
	NameSize           = 264                     // mar_name_t: u16 length, 6 pad, 256 bytes
	nameBufSize        = 256

	SetRequestSize         = 296 // + value
	DeleteRequestSize      = 280
	GetRequestSize         = 288
	AdjustRequestSize      = 288
	IterInitRequestSize    = 280
	IterNextRequestSize    = 24
	IterFinalizeSize       = 24
	TrackAddRequestSize    = 296
	TrackDeleteRequestSize = 24
	SetMapRequestSize      = 24

	GetResponseSize         = 40 // + requested value_len on success
	IterInitResponseSize    = 32
	IterNextResponseSize    = 304
	TrackAddResponseSize    = 32
	TrackDeleteResponseSize = 32
	NotifySize              = 336 // + new value + old value
)

// ValidKeyChar reports whether c may appear in a key name: the daemon
// accepts a-z A-Z 0-9 . _ - / : (exec/icmap.c icmap_is_valid_name_char).
func ValidKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/' || c == ':'
}

// KeyError reports a key name (or prefix) the encoders refuse. It matches
// corosync.ErrNameTooLong for a name over MaxKeyLen, and
// corosync.ErrInvalidParam otherwise (too short, bad character). The daemon
// itself answers CS_ERR_NAME_TOO_LONG for all of them, and only when SET
// creates a key.
type KeyError struct {
	Key    string
	Prefix bool // the name was a prefix (iteration, prefix tracking)
	Detail string
	Code   corosync.Error
}

// Error names the key and what is wrong with it.
func (e *KeyError) Error() string {
	what := "key"
	if e.Prefix {
		what = "key prefix"
	}
	k := e.Key
	if len(k) > 40 {
		k = k[:40] + "..."
	}
	return fmt.Sprintf("cmap: %s %q: %s", what, k, e.Detail)
}

// Unwrap returns the corosync code.
func (e *KeyError) Unwrap() error { return e.Code }

func checkName(name string, prefix bool) error {
	if len(name) > MaxKeyLen {
		return &KeyError{Key: name, Prefix: prefix, Code: corosync.ErrNameTooLong,
			Detail: fmt.Sprintf("%d bytes, at most %d allowed", len(name), MaxKeyLen)}
	}
	if !prefix && len(name) < MinKeyLen {
		return &KeyError{Key: name, Code: corosync.ErrInvalidParam,
			Detail: fmt.Sprintf("%d bytes, at least %d needed", len(name), MinKeyLen)}
	}
	for i := 0; i < len(name); i++ {
		if !ValidKeyChar(name[i]) {
			return &KeyError{Key: name, Prefix: prefix, Code: corosync.ErrInvalidParam,
				Detail: fmt.Sprintf("byte %d is %q; only a-z A-Z 0-9 . _ - / : are allowed", i, name[i])}
		}
	}
	return nil
}

// CheckKey checks a key name as the daemon does when SET creates a key:
// 3..255 bytes of a-z A-Z 0-9 . _ - / :. No other key can exist, so every
// encoder taking a key applies it.
func CheckKey(key string) error { return checkName(key, false) }

// CheckPrefix checks a key prefix (iteration, prefix tracking): 0..255
// bytes of the key characters. "" means every key.
func CheckPrefix(prefix string) error { return checkName(prefix, true) }

// ValueError reports a value AppendSet refuses. It matches
// corosync.ErrTooBig for a value over the size limit and
// corosync.ErrInvalidParam otherwise.
type ValueError struct {
	Key    string
	Type   ValueType
	Detail string
	Code   corosync.Error
}

// Error names the key, the type and what is wrong with the value.
func (e *ValueError) Error() string {
	return fmt.Sprintf("cmap: value for key %s (%s): %s", e.Key, e.Type, e.Detail)
}

// Unwrap returns the corosync code.
func (e *ValueError) Unwrap() error { return e.Code }

// CheckValue checks that v can be stored as the daemon stores it: a known
// type, the exact length of a fixed-size type, a string with exactly one
// NUL (at its end) of at most MaxStringLen characters, a binary of at most
// MaxValueLen bytes.
func CheckValue(key string, v Value) error {
	bad := func(code corosync.Error, f string, a ...any) error {
		return &ValueError{Key: key, Type: v.typ, Code: code, Detail: fmt.Sprintf(f, a...)}
	}
	n := len(v.data)
	switch {
	case !v.typ.Valid():
		return bad(corosync.ErrInvalidParam, "unknown value type %d (1..12 exist)", uint8(v.typ))
	case v.typ.Size() != 0:
		if n != v.typ.Size() {
			return bad(corosync.ErrInvalidParam, "%d bytes, a %s has %d", n, v.typ, v.typ.Size())
		}
	case v.typ == TypeString:
		if n == 0 || v.data[n-1] != 0 {
			return bad(corosync.ErrInvalidParam, "string without its terminating NUL (build it with String)")
		}
		if i := strings.IndexByte(string(v.data[:n-1]), 0); i >= 0 {
			return bad(corosync.ErrInvalidParam, "string has a NUL at byte %d; the daemon would cut it there", i)
		}
		if n-1 > MaxStringLen {
			return bad(corosync.ErrTooBig, "string of %d bytes, at most %d allowed", n-1, MaxStringLen)
		}
	case v.typ == TypeBinary:
		if n > MaxValueLen {
			return bad(corosync.ErrTooBig, "%d bytes, at most %d allowed", n, MaxValueLen)
		}
	}
	return nil
}

// IsStatsKey reports whether key lies in the stats map's name space.
func IsStatsKey(key string) bool { return strings.HasPrefix(key, "stats.") }

// unsafeStatsTrack reports whether exact tracking of key would make the
// stats map copy more than 8 bytes into its 8-byte tracker slot: string
// stats keys (the per-connection procname).
func unsafeStatsTrack(key string) bool {
	return IsStatsKey(key) && strings.HasSuffix(key, ".procname")
}

// DangerError reports a request the encoders refuse because it could
// corrupt or crash corosync 3.1.7. It matches corosync.ErrInvalidParam.
type DangerError struct {
	Request string
	Key     string
	Detail  string
}

// Error explains what was refused and why.
func (e *DangerError) Error() string {
	return fmt.Sprintf("cmap: refusing %s of %s: %s", e.Request, e.Key, e.Detail)
}

// Unwrap returns corosync.ErrInvalidParam.
func (e *DangerError) Unwrap() error { return corosync.ErrInvalidParam }

// Requests is the cmap service's table of request ids and the release that
// introduced each. SET_CURRENT_MAP (the stats map) arrived in 2.99/3.0;
// corosync 2.x indexes its handler table with the id unchecked and dies
// on it.
var Requests = &wire.Requests{Service: "cmap", ByID: []wire.RequestInfo{
	ReqSet:           {Name: "SET", Since: corosync.Version2_4},
	ReqDelete:        {Name: "DELETE", Since: corosync.Version2_4},
	ReqGet:           {Name: "GET", Since: corosync.Version2_4},
	ReqAdjustInt:     {Name: "ADJUST_INT", Since: corosync.Version2_4},
	ReqIterInit:      {Name: "ITER_INIT", Since: corosync.Version2_4},
	ReqIterNext:      {Name: "ITER_NEXT", Since: corosync.Version2_4},
	ReqIterFinalize:  {Name: "ITER_FINALIZE", Since: corosync.Version2_4},
	ReqTrackAdd:      {Name: "TRACK_ADD", Since: corosync.Version2_4},
	ReqTrackDelete:   {Name: "TRACK_DELETE", Since: corosync.Version2_4},
	ReqSetCurrentMap: {Name: "SET_CURRENT_MAP", Since: corosync.Version3_0},
}}
