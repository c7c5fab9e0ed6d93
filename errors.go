package corosync

import (
	"context"
	"errors"
	"strconv"
	"syscall"
)

// Error is a corosync cs_error_t code. Every error this module returns that
// corresponds to a corosync condition carries one, so callers can write
//
//	if errors.Is(err, corosync.ErrTryAgain) { ... }
//
// through any number of wrappers. The numeric values are corosync's.
type Error int32

// The cs_error_t codes of corosync 3.x (include/corosync/corotypes.h).
// There is no code 29.
const (
	OK                   Error = 1
	ErrLibrary           Error = 2
	ErrVersion           Error = 3
	ErrInit              Error = 4
	ErrTimeout           Error = 5
	ErrTryAgain          Error = 6
	ErrInvalidParam      Error = 7
	ErrNoMemory          Error = 8
	ErrBadHandle         Error = 9
	ErrBusy              Error = 10
	ErrAccess            Error = 11
	ErrNotExist          Error = 12
	ErrNameTooLong       Error = 13
	ErrExist             Error = 14
	ErrNoSpace           Error = 15
	ErrInterrupt         Error = 16
	ErrNameNotFound      Error = 17
	ErrNoResources       Error = 18
	ErrNotSupported      Error = 19
	ErrBadOperation      Error = 20
	ErrFailedOperation   Error = 21
	ErrMessageError      Error = 22
	ErrQueueFull         Error = 23
	ErrQueueNotAvailable Error = 24
	ErrBadFlags          Error = 25
	ErrTooBig            Error = 26
	ErrNoSections        Error = 27
	ErrContextNotFound   Error = 28
	ErrTooManyGroups     Error = 30
	ErrSecurity          Error = 100
)

type errInfo struct{ name, phrase string }

var errTable = map[Error]errInfo{
	OK:                   {"CS_OK", "success"},
	ErrLibrary:           {"CS_ERR_LIBRARY", "library error (corosync not running, or the connection was lost)"},
	ErrVersion:           {"CS_ERR_VERSION", "version mismatch"},
	ErrInit:              {"CS_ERR_INIT", "initialisation error"},
	ErrTimeout:           {"CS_ERR_TIMEOUT", "timed out"},
	ErrTryAgain:          {"CS_ERR_TRY_AGAIN", "try again (daemon not ready or flow control)"},
	ErrInvalidParam:      {"CS_ERR_INVALID_PARAM", "invalid parameter"},
	ErrNoMemory:          {"CS_ERR_NO_MEMORY", "out of memory"},
	ErrBadHandle:         {"CS_ERR_BAD_HANDLE", "bad handle (closed or unknown)"},
	ErrBusy:              {"CS_ERR_BUSY", "busy"},
	ErrAccess:            {"CS_ERR_ACCESS", "access denied"},
	ErrNotExist:          {"CS_ERR_NOT_EXIST", "does not exist"},
	ErrNameTooLong:       {"CS_ERR_NAME_TOO_LONG", "name too long"},
	ErrExist:             {"CS_ERR_EXIST", "already exists"},
	ErrNoSpace:           {"CS_ERR_NO_SPACE", "no space"},
	ErrInterrupt:         {"CS_ERR_INTERRUPT", "interrupted"},
	ErrNameNotFound:      {"CS_ERR_NAME_NOT_FOUND", "name not found"},
	ErrNoResources:       {"CS_ERR_NO_RESOURCES", "no resources"},
	ErrNotSupported:      {"CS_ERR_NOT_SUPPORTED", "not supported"},
	ErrBadOperation:      {"CS_ERR_BAD_OPERATION", "bad operation"},
	ErrFailedOperation:   {"CS_ERR_FAILED_OPERATION", "operation failed"},
	ErrMessageError:      {"CS_ERR_MESSAGE_ERROR", "malformed message"},
	ErrQueueFull:         {"CS_ERR_QUEUE_FULL", "queue full"},
	ErrQueueNotAvailable: {"CS_ERR_QUEUE_NOT_AVAILABLE", "queue not available"},
	ErrBadFlags:          {"CS_ERR_BAD_FLAGS", "bad flags"},
	ErrTooBig:            {"CS_ERR_TOO_BIG", "message too big"},
	ErrNoSections:        {"CS_ERR_NO_SECTIONS", "no sections"},
	ErrContextNotFound:   {"CS_ERR_CONTEXT_NOT_FOUND", "context not found"},
	ErrTooManyGroups:     {"CS_ERR_TOO_MANY_GROUPS", "too many groups"},
	ErrSecurity:          {"CS_ERR_SECURITY", "security error"},
}

// Name returns the code's name as corosync prints it, for example
// "CS_ERR_TRY_AGAIN", or "CS_ERR_UNKNOWN(29)" for a value corosync does not define.
func (e Error) Name() string {
	if i, ok := errTable[e]; ok {
		return i.name
	}
	return "CS_ERR_UNKNOWN(" + strconv.Itoa(int(e)) + ")"
}

// Valid reports whether e is a code corosync defines.
func (e Error) Valid() bool {
	_, ok := errTable[e]
	return ok
}

// Error returns the corosync name followed by a short phrase, for example
// "CS_ERR_TRY_AGAIN: try again (daemon not ready or flow control)".
func (e Error) Error() string {
	if i, ok := errTable[e]; ok {
		return i.name + ": " + i.phrase
	}
	return e.Name() + ": unknown error"
}

// Linux errno numbers, as corosync and libqb send them on the wire. They are
// spelled as numbers so that this package builds on every GOOS: on Linux
// syscall.EAGAIN == 11 and so on; elsewhere the local syscall constants
// differ, but the daemon's numbers do not.
const (
	linuxEINTR     = 4
	linuxENOENT    = 2
	linuxE2BIG     = 7
	linuxEBADF     = 9
	linuxEAGAIN    = 11
	linuxENOMEM    = 12
	linuxEACCES    = 13
	linuxEBUSY     = 16
	linuxEEXIST    = 17
	linuxENODEV    = 19
	linuxEINVAL    = 22
	linuxEMFILE    = 24
	linuxENOSPC    = 28
	linuxENOSYS    = 38
	linuxENOMSG    = 42
	linuxEBADE     = 52
	linuxETIME     = 62
	linuxEBADMSG   = 74
	linuxEOVERFLOW = 75
	linuxEMSGSIZE  = 90
	linuxENOTSUP   = 95
	linuxENOBUFS   = 105
	linuxETIMEDOUT = 110
)

// FromErrno maps a libqb errno (a Linux errno number) to a cs_error_t
// exactly as corosync's qb_to_cs_error does (common_lib/error_conversion.c).
// 0 maps to OK.
func FromErrno(errno syscall.Errno) Error {
	switch errno {
	case 0:
		return OK
	case linuxEBADF:
		return ErrBadHandle
	case linuxENOMEM:
		return ErrNoMemory
	case linuxENOMSG, linuxENOBUFS, linuxETIMEDOUT, linuxEAGAIN:
		return ErrTryAgain
	case linuxEBADE:
		return ErrFailedOperation
	case linuxETIME:
		return ErrTimeout
	case linuxEINVAL:
		return ErrInvalidParam
	case linuxEBUSY:
		return ErrBusy
	case linuxEACCES:
		return ErrAccess
	case linuxEOVERFLOW:
		return ErrNameTooLong
	case linuxEEXIST:
		return ErrExist
	case linuxENOSPC:
		return ErrNoSpace
	case linuxEINTR:
		return ErrInterrupt
	case linuxENOENT, linuxENODEV:
		return ErrNotExist
	case linuxENOSYS, linuxENOTSUP:
		return ErrNotSupported
	case linuxEBADMSG:
		return ErrMessageError
	case linuxEMSGSIZE, linuxE2BIG:
		return ErrTooBig
	default:
		return ErrLibrary
	}
}

// FromHandleErrno maps an errno (a Linux errno number) as corosync's
// hdb_error_to_cs does for handle look-ups: EBADF, ENOMEM, EMFILE and
// EACCES have their own codes, anything else is ErrLibrary.
func FromHandleErrno(errno syscall.Errno) Error {
	switch errno {
	case 0:
		return OK
	case linuxEBADF:
		return ErrBadHandle
	case linuxENOMEM:
		return ErrNoMemory
	case linuxEMFILE:
		return ErrNoResources
	case linuxEACCES:
		return ErrAccess
	default:
		return ErrLibrary
	}
}

// Code returns the corosync code carried by err: OK for nil, the first Error
// found in err's chain, ErrTimeout for a context's error (a deadline or a
// cancellation: every blocking call of this module wraps those as
// ErrTimeout, and a bare one is read the same way), or ErrLibrary when err
// carries none.
func Code(err error) Error {
	if err == nil {
		return OK
	}
	var e Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ErrTimeout
	}
	return ErrLibrary
}

// CtxError wraps the error of a context that ended a blocking call op as
// ErrTimeout: errors.Is matches ErrTimeout and the context's error
// (context.Canceled tells a cancellation from a deadline).
func CtxError(op string, ctxErr error) error {
	return NewError(op, ErrTimeout, ctxErr)
}

// OpError is the error type of the operations in this module. It names the
// operation, carries the corosync code, and wraps the underlying cause (a
// syscall.Errno, a context error, a decoding error, ...). errors.Is matches
// both the code and the cause.
type OpError struct {
	Op   string // the operation, e.g. "quorum getquorate" or "dial quorum"
	Code Error  // the corosync code
	Err  error  // the underlying cause, or nil
}

// Error formats as "op: cause (CS_ERR_NAME)" or "op: CS_ERR_NAME: phrase".
func (e *OpError) Error() string {
	if e.Err == nil {
		return e.Op + ": " + e.Code.Error()
	}
	return e.Op + ": " + e.Err.Error() + " (" + e.Code.Name() + ")"
}

// Unwrap returns the code and the cause, so errors.Is and errors.As see both.
func (e *OpError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Code}
	}
	return []error{e.Code, e.Err}
}

// NewError returns an *OpError for op with the given code and cause.
func NewError(op string, code Error, cause error) error {
	return &OpError{Op: op, Code: code, Err: cause}
}
