package cmapwire

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	corosync "github.com/corosync-go/corosync"
)

var le = binary.LittleEndian

// ValueType is a cmap value type (cmap_value_types_t). It travels as one
// byte in an 8-byte slot.
type ValueType uint8

// The value types of corosync 3.1.7 (include/corosync/cmap.h). TypeNone (0)
// appears only in notifications, for "no old value" or "no new value".
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

var typeNames = [...]string{"none", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "flt", "dbl", "str", "bin"}

// String returns the label corosync-cmapctl prints for the type ("u32",
// "str", ...), or "type(N)" for an unknown type.
func (t ValueType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the 12 storable types (1..12).
func (t ValueType) Valid() bool { return t >= TypeInt8 && t <= TypeBinary }

// Size returns the wire length of a fixed-size type, or 0 for string,
// binary and unknown types.
func (t ValueType) Size() int {
	switch t {
	case TypeInt8, TypeUint8:
		return 1
	case TypeInt16, TypeUint16:
		return 2
	case TypeInt32, TypeUint32, TypeFloat:
		return 4
	case TypeInt64, TypeUint64, TypeDouble:
		return 8
	}
	return 0
}

// ParseValueType parses a corosync-cmapctl label ("u32", "str", ...).
func ParseValueType(s string) (ValueType, error) {
	for i, n := range typeNames {
		if i > 0 && n == s {
			return ValueType(i), nil
		}
	}
	return TypeNone, fmt.Errorf("cmap: unknown value type %q: %w", s, corosync.ErrInvalidParam)
}

// Value is a typed cmap value: its type and its bytes as the daemon stores
// them (numbers little-endian; strings with their trailing NUL). The zero
// Value has TypeNone and no bytes ("no value" in a notification).
//
// A Value may carry the name of its key, which the typed getters put in
// their errors; WithKey sets it.
type Value struct {
	key  string
	typ  ValueType
	data []byte
}

// RawValue returns a Value of type t holding a copy of data, unchecked: it
// is what decoders produce. Use the typed constructors to build values to
// send.
func RawValue(t ValueType, data []byte) Value {
	return Value{typ: t, data: append([]byte(nil), data...)}
}

func fixed(t ValueType, n int, put func([]byte)) Value {
	b := make([]byte, n)
	put(b)
	return Value{typ: t, data: b}
}

// Int8 returns an i8 value.
func Int8(v int8) Value { return Value{typ: TypeInt8, data: []byte{byte(v)}} }

// Uint8 returns a u8 value.
func Uint8(v uint8) Value { return Value{typ: TypeUint8, data: []byte{v}} }

// Int16 returns an i16 value.
func Int16(v int16) Value {
	return fixed(TypeInt16, 2, func(b []byte) { le.PutUint16(b, uint16(v)) })
}

// Uint16 returns a u16 value.
func Uint16(v uint16) Value { return fixed(TypeUint16, 2, func(b []byte) { le.PutUint16(b, v) }) }

// Int32 returns an i32 value.
func Int32(v int32) Value {
	return fixed(TypeInt32, 4, func(b []byte) { le.PutUint32(b, uint32(v)) })
}

// Uint32 returns a u32 value.
func Uint32(v uint32) Value { return fixed(TypeUint32, 4, func(b []byte) { le.PutUint32(b, v) }) }

// Int64 returns an i64 value.
func Int64(v int64) Value {
	return fixed(TypeInt64, 8, func(b []byte) { le.PutUint64(b, uint64(v)) })
}

// Uint64 returns a u64 value.
func Uint64(v uint64) Value { return fixed(TypeUint64, 8, func(b []byte) { le.PutUint64(b, v) }) }

// Float returns a flt (IEEE-754 binary32) value.
func Float(v float32) Value {
	return fixed(TypeFloat, 4, func(b []byte) { le.PutUint32(b, math.Float32bits(v)) })
}

// Double returns a dbl (binary64) value.
func Double(v float64) Value {
	return fixed(TypeDouble, 8, func(b []byte) { le.PutUint64(b, math.Float64bits(v)) })
}

// String returns a str value: s followed by one NUL, as the daemon stores
// it. Whether s can be sent (no NUL inside, at most MaxStringLen bytes) is
// checked when a SET is encoded.
func String(s string) Value {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return Value{typ: TypeString, data: b}
}

// Binary returns a bin value holding a copy of b (which may be empty).
func Binary(b []byte) Value {
	return Value{typ: TypeBinary, data: append([]byte{}, b...)}
}

// Type returns the value's type.
func (v Value) Type() ValueType { return v.typ }

// Key returns the key name carried for error messages ("" if none).
func (v Value) Key() string { return v.key }

// WithKey returns v carrying key for its error messages.
func (v Value) WithKey(key string) Value { v.key = key; return v }

// Bytes returns the value's bytes as stored (a string includes its NUL).
// The slice is shared with v.
func (v Value) Bytes() []byte { return v.data }

// Len returns the number of stored bytes (a string counts its NUL).
func (v Value) Len() int { return len(v.data) }

// IsZero reports whether v is "no value" (TypeNone, no bytes).
func (v Value) IsZero() bool { return v.typ == TypeNone && len(v.data) == 0 }

// Equal reports whether v and o have the same type and bytes (the key is
// not compared).
func (v Value) Equal(o Value) bool {
	return v.typ == o.typ && string(v.data) == string(o.data)
}

// TypeError is returned by a typed getter called on a value of another
// type. It matches corosync.ErrInvalidParam, as libcmap's typed getters
// answer CS_ERR_INVALID_PARAM for a type mismatch.
type TypeError struct {
	Key  string    // the key, if the value carried it
	Have ValueType // the value's type
	Want ValueType // the getter's type
}

// Error says what was wrong: "cmap: key totem.token is u32, not u8".
func (e *TypeError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("cmap: value is %s, not %s", e.Have, e.Want)
	}
	return fmt.Sprintf("cmap: key %s is %s, not %s", e.Key, e.Have, e.Want)
}

// Unwrap makes errors.Is(err, corosync.ErrInvalidParam) hold.
func (e *TypeError) Unwrap() error { return corosync.ErrInvalidParam }

func (v Value) want(t ValueType) ([]byte, error) {
	if v.typ != t {
		return nil, &TypeError{Key: v.key, Have: v.typ, Want: t}
	}
	if n := t.Size(); n != 0 && len(v.data) != n {
		what := "value"
		if v.key != "" {
			what = "key " + v.key
		}
		return nil, fmt.Errorf("cmap: %s: %s value has %d bytes, want %d: %w", what, t, len(v.data), n, corosync.ErrMessageError)
	}
	return v.data, nil
}

// Int8 returns the value of an i8.
func (v Value) Int8() (int8, error) {
	b, err := v.want(TypeInt8)
	if err != nil {
		return 0, err
	}
	return int8(b[0]), nil
}

// Uint8 returns the value of a u8.
func (v Value) Uint8() (uint8, error) {
	b, err := v.want(TypeUint8)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// Int16 returns the value of an i16.
func (v Value) Int16() (int16, error) {
	b, err := v.want(TypeInt16)
	if err != nil {
		return 0, err
	}
	return int16(le.Uint16(b)), nil
}

// Uint16 returns the value of a u16.
func (v Value) Uint16() (uint16, error) {
	b, err := v.want(TypeUint16)
	if err != nil {
		return 0, err
	}
	return le.Uint16(b), nil
}

// Int32 returns the value of an i32.
func (v Value) Int32() (int32, error) {
	b, err := v.want(TypeInt32)
	if err != nil {
		return 0, err
	}
	return int32(le.Uint32(b)), nil
}

// Uint32 returns the value of a u32.
func (v Value) Uint32() (uint32, error) {
	b, err := v.want(TypeUint32)
	if err != nil {
		return 0, err
	}
	return le.Uint32(b), nil
}

// Int64 returns the value of an i64.
func (v Value) Int64() (int64, error) {
	b, err := v.want(TypeInt64)
	if err != nil {
		return 0, err
	}
	return int64(le.Uint64(b)), nil
}

// Uint64 returns the value of a u64.
func (v Value) Uint64() (uint64, error) {
	b, err := v.want(TypeUint64)
	if err != nil {
		return 0, err
	}
	return le.Uint64(b), nil
}

// Float returns the value of a flt.
func (v Value) Float() (float32, error) {
	b, err := v.want(TypeFloat)
	if err != nil {
		return 0, err
	}
	return math.Float32frombits(le.Uint32(b)), nil
}

// Double returns the value of a dbl.
func (v Value) Double() (float64, error) {
	b, err := v.want(TypeDouble)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(le.Uint64(b)), nil
}

// String returns the value of a str without its trailing NUL. (It is a
// typed getter, not a fmt.Stringer: use Text to print any value.)
func (v Value) String() (string, error) {
	b, err := v.want(TypeString)
	if err != nil {
		return "", err
	}
	return cString(b), nil
}

// Binary returns a copy of the bytes of a bin.
func (v Value) Binary() ([]byte, error) {
	b, err := v.want(TypeBinary)
	if err != nil {
		return nil, err
	}
	return append([]byte{}, b...), nil
}

// cString returns b up to its first NUL (all of b if there is none), as C
// code reading the buffer would see it.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Text formats the value as corosync-cmapctl -b prints it after "= ":
// decimal integers, C's "%f" for flt and dbl ("inf", "nan"), a string up to its first NUL, and
// binary bytes printable as is, '\' as "\\", others as "\xNN". A value whose
// length does not fit its type prints as "<N bytes>".
func (v Value) Text() string {
	if n := v.typ.Size(); n != 0 && len(v.data) != n {
		return fmt.Sprintf("<%d bytes>", len(v.data))
	}
	b := v.data
	switch v.typ {
	case TypeInt8:
		return strconv.FormatInt(int64(int8(b[0])), 10)
	case TypeUint8:
		return strconv.FormatUint(uint64(b[0]), 10)
	case TypeInt16:
		return strconv.FormatInt(int64(int16(le.Uint16(b))), 10)
	case TypeUint16:
		return strconv.FormatUint(uint64(le.Uint16(b)), 10)
	case TypeInt32:
		return strconv.FormatInt(int64(int32(le.Uint32(b))), 10)
	case TypeUint32:
		return strconv.FormatUint(uint64(le.Uint32(b)), 10)
	case TypeInt64:
		return strconv.FormatInt(int64(le.Uint64(b)), 10)
	case TypeUint64:
		return strconv.FormatUint(le.Uint64(b), 10)
	case TypeFloat:
		return cFloat(float64(math.Float32frombits(le.Uint32(b))))
	case TypeDouble:
		return cFloat(math.Float64frombits(le.Uint64(b)))
	case TypeString:
		return cString(b)
	}
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= ' ' && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02X`, c)
		}
	}
	return sb.String()
}

// cFloat formats f as C's printf("%f") does: "inf", "-inf", "nan" and
// "-nan" where Go would say "+Inf" or "NaN".
func cFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	}
	return fmt.Sprintf("%f", f)
}

// GoString renders the value for debugging: "u32(5000)", `str("x")`.
func (v Value) GoString() string {
	if v.typ == TypeString {
		return fmt.Sprintf("str(%q)", cString(v.data))
	}
	if v.typ == TypeBinary || !v.typ.Valid() {
		return fmt.Sprintf("%s(%x)", v.typ, v.data)
	}
	return v.typ.String() + "(" + v.Text() + ")"
}
