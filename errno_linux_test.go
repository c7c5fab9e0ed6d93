package corosync_test

import (
	"syscall"
	"testing"

	corosync "github.com/corosync-go/corosync"
)

// On Linux the numeric table is the symbolic one.
func TestErrnoNumbersAreLinux(t *testing.T) {
	for errno, want := range map[syscall.Errno]corosync.Error{
		syscall.EAGAIN: corosync.ErrTryAgain, syscall.EBADE: corosync.ErrFailedOperation, syscall.ETIME: corosync.ErrTimeout,
		syscall.EOVERFLOW: corosync.ErrNameTooLong, syscall.ENODEV: corosync.ErrNotExist, syscall.E2BIG: corosync.ErrTooBig,
		syscall.ENOTSUP: corosync.ErrNotSupported, syscall.ENOMSG: corosync.ErrTryAgain, syscall.ENOSPC: corosync.ErrNoSpace,
		syscall.EINTR: corosync.ErrInterrupt, syscall.EBUSY: corosync.ErrBusy, syscall.EINVAL: corosync.ErrInvalidParam,
		syscall.ENOMEM: corosync.ErrNoMemory,
	} {
		if got := corosync.FromErrno(errno); got != want {
			t.Errorf("FromErrno(%v) = %v, want %v", errno, got, want)
		}
	}
}
