package cmap

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// Value is a typed cmap value: its type and its bytes as the daemon stores
// them (numbers little-endian, strings with their trailing NUL). Build
// values with Int8 ... Binary; read them with the typed getters
// (Value.Uint32, Value.Str, ...), which fail with a *TypeError naming the
// key and both types when the value has another type, or with the
// widening getters Value.Uint and Value.Int, which take any unsigned or
// signed integer type. String formats any value as corosync-cmapctl prints
// it; Equal compares two values.
//
// The zero Value has TypeNone and no bytes: "no value" in an Event. A
// Value read from the daemon carries its key's name, which the getters put
// in their errors (WithKey sets it).
type Value struct{ v cmapwire.Value }

// w is v as the codec's type (the same memory: no copy).
func (v Value) w() cmapwire.Value { return v.v }

// Type returns the value's type.
func (v Value) Type() ValueType { return ValueType(v.w().Type()) }

// Key returns the key name the value carries for its errors ("" if none).
func (v Value) Key() string { return v.w().Key() }

// WithKey returns v carrying key for the errors of its getters.
func (v Value) WithKey(key string) Value { return Value{v.v.WithKey(key)} }

// Bytes returns the value's bytes as stored (a string includes its NUL).
// The slice is shared with v.
func (v Value) Bytes() []byte { return v.w().Bytes() }

// Len returns the number of stored bytes (a string counts its NUL).
func (v Value) Len() int { return v.w().Len() }

// IsZero reports whether v is "no value" (TypeNone, no bytes).
func (v Value) IsZero() bool { return v.w().IsZero() }

// Equal reports whether v and o have the same type and bytes (the key is
// not compared).
func (v Value) Equal(o Value) bool { return v.w().Equal(o.w()) }

// String formats the value as corosync-cmapctl prints it after "= ":
// decimal integers, C's "%f" for flt and dbl ("inf", "nan"), a string up
// to its first NUL, binary bytes printable as is, '\' as "\\" and others as
// "\xNN"; a value whose length does not fit its type prints as
// "<N bytes>". It never fails: use Str to read a string value.
func (v Value) String() string { return v.w().Text() }

// GoString renders the value with its type, for %#v and debugging:
// "u32(5000)", `str("x")`, "bin(0102)".
func (v Value) GoString() string { return v.w().GoString() }

// Int8 returns the value of an i8.
func (v Value) Int8() (int8, error) { x, err := v.w().Int8(); return x, pubErr(err) }

// Uint8 returns the value of a u8.
func (v Value) Uint8() (uint8, error) { x, err := v.w().Uint8(); return x, pubErr(err) }

// Int16 returns the value of an i16.
func (v Value) Int16() (int16, error) { x, err := v.w().Int16(); return x, pubErr(err) }

// Uint16 returns the value of a u16.
func (v Value) Uint16() (uint16, error) { x, err := v.w().Uint16(); return x, pubErr(err) }

// Int32 returns the value of an i32.
func (v Value) Int32() (int32, error) { x, err := v.w().Int32(); return x, pubErr(err) }

// Uint32 returns the value of a u32.
func (v Value) Uint32() (uint32, error) { x, err := v.w().Uint32(); return x, pubErr(err) }

// Int64 returns the value of an i64.
func (v Value) Int64() (int64, error) { x, err := v.w().Int64(); return x, pubErr(err) }

// Uint64 returns the value of a u64.
func (v Value) Uint64() (uint64, error) { x, err := v.w().Uint64(); return x, pubErr(err) }

// Float returns the value of a flt.
func (v Value) Float() (float32, error) { x, err := v.w().Float(); return x, pubErr(err) }

// Double returns the value of a dbl.
func (v Value) Double() (float64, error) { x, err := v.w().Double(); return x, pubErr(err) }

// Str returns the value of a str without its trailing NUL (cmap_get_string).
// String, by contrast, formats a value of any type.
func (v Value) Str() (string, error) { x, err := v.w().String(); return x, pubErr(err) }

// Binary returns a copy of the bytes of a bin.
func (v Value) Binary() ([]byte, error) { x, err := v.w().Binary(); return x, pubErr(err) }

// Uint returns the value of any unsigned integer type (u8, u16, u32, u64)
// as a uint64: for keys whose width differs between corosync releases or
// maps. Another type is a *TypeError with Widening set.
func (v Value) Uint() (uint64, error) {
	switch v.Type() {
	case TypeUint8:
		x, err := v.Uint8()
		return uint64(x), err
	case TypeUint16:
		x, err := v.Uint16()
		return uint64(x), err
	case TypeUint32:
		x, err := v.Uint32()
		return uint64(x), err
	case TypeUint64:
		return v.Uint64()
	}
	return 0, &TypeError{Key: v.Key(), Have: v.Type(), Want: TypeUint64, Widening: true}
}

// Int returns the value of any signed integer type (i8, i16, i32, i64) as
// an int64. Another type is a *TypeError with Widening set.
func (v Value) Int() (int64, error) {
	switch v.Type() {
	case TypeInt8:
		x, err := v.Int8()
		return int64(x), err
	case TypeInt16:
		x, err := v.Int16()
		return int64(x), err
	case TypeInt32:
		x, err := v.Int32()
		return int64(x), err
	case TypeInt64:
		return v.Int64()
	}
	return 0, &TypeError{Key: v.Key(), Have: v.Type(), Want: TypeInt64, Widening: true}
}

// ValueType is a cmap value type (cmap_value_types_t).
type ValueType uint8

// The value types. TypeNone appears only in Events: "no value" (the old
// value of an add, the new value of a delete).
const (
	TypeNone   ValueType = 0
	TypeInt8   ValueType = 1
	TypeUint8  ValueType = 2
	TypeInt16  ValueType = 3
	TypeUint16 ValueType = 4
	TypeInt32  ValueType = 5
	TypeUint32 ValueType = 6
	TypeInt64  ValueType = 7
	TypeUint64 ValueType = 8
	TypeFloat  ValueType = 9
	TypeDouble ValueType = 10
	TypeString ValueType = 11
	TypeBinary ValueType = 12
)

// String returns the label corosync-cmapctl prints for the type ("u32",
// "str", ...), "none" for TypeNone, or "type(N)" for an unknown type.
func (t ValueType) String() string { return cmapwire.ValueType(t).String() }

// Valid reports whether t is one of the 12 storable types.
func (t ValueType) Valid() bool { return cmapwire.ValueType(t).Valid() }

// Size returns the length of a fixed-size type's value, or 0 for string,
// binary and unknown types.
func (t ValueType) Size() int { return cmapwire.ValueType(t).Size() }

// ParseValueType parses a corosync-cmapctl type label ("u32", "str", ...).
func ParseValueType(s string) (ValueType, error) {
	t, err := cmapwire.ParseValueType(s)
	return ValueType(t), err
}

// Map selects the map a client works on (cmap_map_t).
type Map int32

// The two maps.
const (
	// MapICMap holds the configuration and runtime keys (the default).
	MapICMap Map = 0
	// MapStats holds statistics generated on demand; it is read-only but
	// for the stats.clear.* triggers.
	MapStats Map = 1
)

// String returns "icmap", "stats" or "map(N)".
func (m Map) String() string {
	switch m {
	case MapICMap:
		return "icmap"
	case MapStats:
		return "stats"
	}
	return fmt.Sprintf("map(%d)", int32(m))
}

// Limits of corosync 3.1.7, enforced before anything is sent.
const (
	// MaxKeyLen is the longest key name: corosync's CMAP_KEYNAME_MAXLEN.
	MaxKeyLen = 255
	// MinKeyLen is the shortest key name: corosync's CMAP_KEYNAME_MINLEN.
	MinKeyLen = 3
	// MaxValueLen is the largest binary value the daemon stores: corosync's
	// ICMAP_MAX_VALUE_LEN.
	MaxValueLen = 16384
	// MaxStringLen is the longest string value: it is stored with its NUL,
	// which must fit in MaxValueLen.
	MaxStringLen = MaxValueLen - 1
)

// KeyError is a key or prefix outside the daemon's rules: over MaxKeyLen
// bytes (Code corosync.ErrNameTooLong), shorter than MinKeyLen or with a
// byte outside a-z A-Z 0-9 . _ - / : (corosync.ErrInvalidParam).
type KeyError struct {
	Key    string
	Prefix bool   // the name was a prefix (iteration, prefix tracking)
	Detail string // what is wrong with it
	Code   corosync.Error
}

// Error says what was wrong: `cmap: key "a b": byte 1 is ' '; only ...`.
func (e *KeyError) Error() string { return (*cmapwire.KeyError)(e).Error() }

// Unwrap returns Code, for errors.Is.
func (e *KeyError) Unwrap() error { return e.Code }

// ValueError is a value Set refuses: too large (Code corosync.ErrTooBig), a
// string with a NUL inside, or a malformed value (corosync.ErrInvalidParam).
type ValueError struct {
	Key    string
	Type   ValueType
	Detail string // what is wrong with the value
	Code   corosync.Error
}

// Error says what was wrong: "cmap: value for key k (str): ...".
func (e *ValueError) Error() string {
	return (&cmapwire.ValueError{Key: e.Key, Type: cmapwire.ValueType(e.Type), Detail: e.Detail, Code: e.Code}).Error()
}

// Unwrap returns Code, for errors.Is.
func (e *ValueError) Unwrap() error { return e.Code }

// TypeError is a typed getter called on a value of another type; it
// matches corosync.ErrInvalidParam, as libcmap's typed getters answer
// CS_ERR_INVALID_PARAM for a type mismatch.
type TypeError struct {
	Key  string    // the key, if the value carried it
	Have ValueType // the value's type
	Want ValueType // the getter's type
	// Widening is set for Value.Uint and Value.Int, which take any
	// unsigned (Want TypeUint64) or signed (Want TypeInt64) integer type.
	Widening bool
}

// Error says what was wrong: "cmap: key totem.token is u32, not u8", or
// "cmap: key totem.cluster_name is str, not an unsigned integer (u8, u16,
// u32, u64)".
func (e *TypeError) Error() string {
	if !e.Widening {
		return (&cmapwire.TypeError{Key: e.Key, Have: cmapwire.ValueType(e.Have), Want: cmapwire.ValueType(e.Want)}).Error()
	}
	want := "an unsigned integer (u8, u16, u32, u64)"
	if e.Want == TypeInt64 {
		want = "a signed integer (i8, i16, i32, i64)"
	}
	if e.Key == "" {
		return fmt.Sprintf("cmap: value is %s, not %s", e.Have, want)
	}
	return fmt.Sprintf("cmap: key %s is %s, not %s", e.Key, e.Have, want)
}

// Unwrap makes errors.Is(err, corosync.ErrInvalidParam) hold.
func (e *TypeError) Unwrap() error { return corosync.ErrInvalidParam }

// DangerError is a request refused because corosync would corrupt its
// memory or crash on it (corosync.ErrInvalidParam).
type DangerError struct {
	Request string // "get size", "exact track", ...
	Key     string
	Detail  string // why the daemon cannot take it
}

// Error says what was refused and why.
func (e *DangerError) Error() string { return (*cmapwire.DangerError)(e).Error() }

// Unwrap makes errors.Is(err, corosync.ErrInvalidParam) hold.
func (e *DangerError) Unwrap() error { return corosync.ErrInvalidParam }

// pubErr turns the codec's argument errors into this package's types;
// other errors pass unchanged.
func pubErr(err error) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *cmapwire.KeyError:
		return (*KeyError)(e)
	case *cmapwire.DangerError:
		return (*DangerError)(e)
	case *cmapwire.ValueError:
		return &ValueError{Key: e.Key, Type: ValueType(e.Type), Detail: e.Detail, Code: e.Code}
	case *cmapwire.TypeError:
		return &TypeError{Key: e.Key, Have: ValueType(e.Have), Want: ValueType(e.Want)}
	}
	return err
}

// ValidKeyChar reports whether c may appear in a key name.
func ValidKeyChar(c byte) bool { return cmapwire.ValidKeyChar(c) }

// CheckKey reports whether key can exist: 3..255 bytes of a-z A-Z 0-9 . _ -
// / :. It returns a *KeyError otherwise. Every call taking a key checks it.
func CheckKey(key string) error { return pubErr(cmapwire.CheckKey(key)) }

// Int8 returns an i8 value.
func Int8(v int8) Value { return Value{cmapwire.Int8(v)} }

// Uint8 returns a u8 value.
func Uint8(v uint8) Value { return Value{cmapwire.Uint8(v)} }

// Int16 returns an i16 value.
func Int16(v int16) Value { return Value{cmapwire.Int16(v)} }

// Uint16 returns a u16 value.
func Uint16(v uint16) Value { return Value{cmapwire.Uint16(v)} }

// Int32 returns an i32 value.
func Int32(v int32) Value { return Value{cmapwire.Int32(v)} }

// Uint32 returns a u32 value.
func Uint32(v uint32) Value { return Value{cmapwire.Uint32(v)} }

// Int64 returns an i64 value.
func Int64(v int64) Value { return Value{cmapwire.Int64(v)} }

// Uint64 returns a u64 value.
func Uint64(v uint64) Value { return Value{cmapwire.Uint64(v)} }

// Float returns a flt value (IEEE-754 binary32).
func Float(v float32) Value { return Value{cmapwire.Float(v)} }

// Double returns a dbl value (binary64).
func Double(v float64) Value { return Value{cmapwire.Double(v)} }

// String returns a str value. s must not contain a NUL byte and may be at
// most MaxStringLen bytes; Set checks.
func String(s string) Value { return Value{cmapwire.String(s)} }

// Binary returns a bin value holding a copy of b (at most MaxValueLen
// bytes; Set checks).
func Binary(b []byte) Value { return Value{cmapwire.Binary(b)} }
