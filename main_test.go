package corosync_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
)

// The examples start clients and goroutines: none may outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestErrorCodes(t *testing.T) {
	valid := 0
	for v := corosync.Error(0); v <= 101; v++ {
		if v.Valid() {
			valid++
			if v.Name() == "" || v.Error() == "" {
				t.Fatalf("%d has no name", v)
			}
		}
	}
	if valid != 30 || corosync.Error(29).Valid() {
		t.Fatalf("%d codes defined; want 1-28, 30 and 100", valid)
	}
	if got := corosync.ErrTryAgain.Error(); got != "CS_ERR_TRY_AGAIN: try again (daemon not ready or flow control)" {
		t.Fatalf("ErrTryAgain = %q", got)
	}
	// qb_to_cs_error (corosync common_lib/error_conversion.c).
	// Linux errno numbers, as the daemon sends them, on every GOOS.
	for errno, want := range map[syscall.Errno]corosync.Error{
		0: corosync.OK, 11 /* EAGAIN */ : corosync.ErrTryAgain, 110 /* ETIMEDOUT */ : corosync.ErrTryAgain,
		105 /* ENOBUFS */ : corosync.ErrTryAgain, 13 /* EACCES */ : corosync.ErrAccess, 111 /* ECONNREFUSED */ : corosync.ErrLibrary,
		107 /* ENOTCONN */ : corosync.ErrLibrary, 74 /* EBADMSG */ : corosync.ErrMessageError, 90 /* EMSGSIZE */ : corosync.ErrTooBig,
		38 /* ENOSYS */ : corosync.ErrNotSupported, 2 /* ENOENT */ : corosync.ErrNotExist, 17 /* EEXIST */ : corosync.ErrExist,
		9 /* EBADF */ : corosync.ErrBadHandle, 62 /* ETIME */ : corosync.ErrTimeout, 32 /* EPIPE */ : corosync.ErrLibrary,
		52 /* EBADE */ : corosync.ErrFailedOperation, 95 /* ENOTSUP */ : corosync.ErrNotSupported,
	} {
		if got := corosync.FromErrno(errno); got != want {
			t.Errorf("FromErrno(%d) = %v, want %v", errno, got, want)
		}
	}
	if corosync.FromHandleErrno(24 /* EMFILE */) != corosync.ErrNoResources {
		t.Error("hdb_error_to_cs(EMFILE)")
	}
	// errors.Is through wrappers, for both the code and the cause.
	err := fmt.Errorf("outer: %w", corosync.NewError("quorum getquorate", corosync.ErrTryAgain, syscall.EAGAIN))
	if !errors.Is(err, corosync.ErrTryAgain) || !errors.Is(err, syscall.EAGAIN) || corosync.Code(err) != corosync.ErrTryAgain {
		t.Fatalf("wrapping lost the code: %v", err)
	}
	if corosync.Code(nil) != corosync.OK || corosync.Code(errors.New("x")) != corosync.ErrLibrary {
		t.Fatal("Code of nil / foreign errors")
	}
}

// A context's error, bare or wrapped, is a timeout to Code, and CtxError
// keeps both the code and the cause visible to errors.Is.
func TestCodeOfContextErrors(t *testing.T) {
	for _, err := range []error{context.DeadlineExceeded, context.Canceled, fmt.Errorf("next: %w", context.DeadlineExceeded)} {
		if got := corosync.Code(err); got != corosync.ErrTimeout {
			t.Errorf("Code(%v) = %v, want ErrTimeout", err, got)
		}
	}
	err := corosync.CtxError("quorum next", context.Canceled)
	if !errors.Is(err, corosync.ErrTimeout) || !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CtxError: %v matches the wrong errors", err)
	}
	if got, want := err.Error(), "quorum next: context canceled (CS_ERR_TIMEOUT)"; got != want {
		t.Errorf("CtxError: %q, want %q", got, want)
	}
	if got := corosync.Code(errors.New("other")); got != corosync.ErrLibrary {
		t.Errorf("Code(other) = %v, want ErrLibrary", got)
	}
}
