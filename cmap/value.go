package cmap

import "github.com/corosync-go/corosync/internal/wire/cmapwire"

// Value is a typed cmap value: its type and its bytes as the daemon stores
// them. Build values with Int8 ... Binary; read them with the typed getters
// (Value.Uint32, Value.String, ...), which fail with a *TypeError naming the
// key and both types when the value has another type. Value.Text formats any
// value as corosync-cmapctl prints it, Value.Equal compares two values.
//
// Value.String is the str getter (it returns an error too), not a
// fmt.Stringer; print values with Text or %#v.
type Value = cmapwire.Value

// ValueType is a cmap value type (cmap_value_types_t); its String is the
// label corosync-cmapctl prints ("u32", "str", ...).
type ValueType = cmapwire.ValueType

// The value types. TypeNone appears only in Events: "no value" (the old
// value of an add, the new value of a delete).
const (
	TypeNone   = cmapwire.TypeNone
	TypeInt8   = cmapwire.TypeInt8
	TypeUint8  = cmapwire.TypeUint8
	TypeInt16  = cmapwire.TypeInt16
	TypeUint16 = cmapwire.TypeUint16
	TypeInt32  = cmapwire.TypeInt32
	TypeUint32 = cmapwire.TypeUint32
	TypeInt64  = cmapwire.TypeInt64
	TypeUint64 = cmapwire.TypeUint64
	TypeFloat  = cmapwire.TypeFloat
	TypeDouble = cmapwire.TypeDouble
	TypeString = cmapwire.TypeString
	TypeBinary = cmapwire.TypeBinary
)

// Map selects the map a client works on (cmap_map_t).
type Map = cmapwire.Map

// The two maps.
const (
	// MapICMap holds the configuration and runtime keys (the default).
	MapICMap = cmapwire.MapICMap
	// MapStats holds statistics generated on demand; it is read-only but
	// for the stats.clear.* triggers.
	MapStats = cmapwire.MapStats
)

// Limits of corosync 3.1.7, enforced before anything is sent.
const (
	// MaxKeyLen is the longest key name (CMAP_KEYNAME_MAXLEN).
	MaxKeyLen = cmapwire.MaxKeyLen
	// MinKeyLen is the shortest key name (CMAP_KEYNAME_MINLEN).
	MinKeyLen = cmapwire.MinKeyLen
	// MaxValueLen is the largest binary value.
	MaxValueLen = cmapwire.MaxValueLen
	// MaxStringLen is the longest string value (it is stored with a NUL).
	MaxStringLen = cmapwire.MaxStringLen
)

// Errors that explain a refused argument. Each matches a corosync code with
// errors.Is: see the type's documentation.
type (
	// KeyError is a key or prefix outside the daemon's rules: over
	// MaxKeyLen bytes (corosync.ErrNameTooLong), shorter than MinKeyLen or
	// with a byte outside a-z A-Z 0-9 . _ - / : (corosync.ErrInvalidParam).
	KeyError = cmapwire.KeyError
	// ValueError is a value Set refuses: too large (corosync.ErrTooBig), a
	// string with a NUL inside, or a malformed value (corosync.ErrInvalidParam).
	ValueError = cmapwire.ValueError
	// TypeError is a typed getter called on a value of another type
	// (corosync.ErrInvalidParam), e.g. "cmap: key totem.token is u32, not u8".
	TypeError = cmapwire.TypeError
	// DangerError is a request refused because corosync 3.1.7 would corrupt
	// its memory or crash on it (corosync.ErrInvalidParam).
	DangerError = cmapwire.DangerError
)

// ValidKeyChar reports whether c may appear in a key name.
func ValidKeyChar(c byte) bool { return cmapwire.ValidKeyChar(c) }

// CheckKey reports whether key can exist: 3..255 bytes of a-z A-Z 0-9 . _ -
// / :. It returns a *KeyError otherwise. Every call taking a key checks it.
func CheckKey(key string) error { return cmapwire.CheckKey(key) }

// Int8 returns an i8 value.
func Int8(v int8) Value { return cmapwire.Int8(v) }

// Uint8 returns a u8 value.
func Uint8(v uint8) Value { return cmapwire.Uint8(v) }

// Int16 returns an i16 value.
func Int16(v int16) Value { return cmapwire.Int16(v) }

// Uint16 returns a u16 value.
func Uint16(v uint16) Value { return cmapwire.Uint16(v) }

// Int32 returns an i32 value.
func Int32(v int32) Value { return cmapwire.Int32(v) }

// Uint32 returns a u32 value.
func Uint32(v uint32) Value { return cmapwire.Uint32(v) }

// Int64 returns an i64 value.
func Int64(v int64) Value { return cmapwire.Int64(v) }

// Uint64 returns a u64 value.
func Uint64(v uint64) Value { return cmapwire.Uint64(v) }

// Float returns a flt value (IEEE-754 binary32).
func Float(v float32) Value { return cmapwire.Float(v) }

// Double returns a dbl value (binary64).
func Double(v float64) Value { return cmapwire.Double(v) }

// String returns a str value. s must not contain a NUL byte and may be at
// most MaxStringLen bytes; Set checks.
func String(s string) Value { return cmapwire.String(s) }

// Binary returns a bin value holding a copy of b (at most MaxValueLen
// bytes; Set checks).
func Binary(b []byte) Value { return cmapwire.Binary(b) }
