package transport

import (
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sem is a glibc 2.34+ process-shared sem_t ("new_sem", 64-bit atomics) in
// shared memory: the low 32 bits of data are the value, the high 32 bits the
// number of registered waiters; the futex word is the low half. Every futex
// operation is shared (no FUTEX_PRIVATE_FLAG), or the daemon's wake would not
// reach us. See spec/libqb-ipc.md §4.3.
type sem struct {
	data *uint64
}

const (
	semValueMax    = 0x7FFFFFFF
	semNwaitersOne = uint64(1) << 32
	futexWait      = 0
	futexWake      = 1
	maxFutexSlice  = 2 * time.Second
)

func (s sem) futexAddr() uintptr { return uintptr(unsafe.Pointer(s.data)) }

// value returns the token count (sem_getvalue).
func (s sem) value() uint32 { return uint32(atomic.LoadUint64(s.data)) }

// post adds a token and wakes a waiter if any registered (sem_post).
func (s sem) post() error {
	for {
		d := atomic.LoadUint64(s.data)
		if uint32(d) == semValueMax {
			return syscall.EOVERFLOW
		}
		if atomic.CompareAndSwapUint64(s.data, d, d+1) {
			if d>>32 != 0 {
				s.wake()
			}
			return nil
		}
	}
}

// wake wakes one waiter of the futex. Used by post, and to interrupt our own
// waits (a spurious wake is harmless: the waiter re-checks).
func (s sem) wake() {
	unix.Syscall6(unix.SYS_FUTEX, s.futexAddr(), futexWake, 1, 0, 0, 0)
}

// tryWait takes a token if one is there (sem_trywait).
func (s sem) tryWait() bool {
	for {
		d := atomic.LoadUint64(s.data)
		if uint32(d) == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(s.data, d, d-1) {
			return true
		}
	}
}

// timedWait takes a token, waiting at most d (sem_timedwait). It registers
// in nwaiters for the whole wait, so the daemon's post wakes it. It returns
// false on timeout, or after a wake-up once broken is set or done is closed
// (cancellation: the canceller sets the flag or closes done, then calls wake).
func (s sem) timedWait(d, spin time.Duration, broken *atomic.Bool, done <-chan struct{}) bool {
	if s.spinWait(spin) {
		return true
	}
	deadline := time.Now().Add(d)
	v := atomic.AddUint64(s.data, semNwaitersOne)
	for {
		if uint32(v) == 0 {
			if stopped(broken, done) {
				atomic.AddUint64(s.data, ^(semNwaitersOne - 1))
				return false
			}
			left := time.Until(deadline)
			if left <= 0 {
				atomic.AddUint64(s.data, ^(semNwaitersOne - 1))
				return false
			}
			ts := unix.NsecToTimespec(int64(min(left, maxFutexSlice)))
			// Syscall6, not RawSyscall6: the scheduler hands this P to other
			// goroutines while we sleep. EINTR (Go preempts with SIGURG),
			// EAGAIN (value changed) and ETIMEDOUT all just loop.
			unix.Syscall6(unix.SYS_FUTEX, s.futexAddr(), futexWait, 0, uintptr(unsafe.Pointer(&ts)), 0, 0)
			v = atomic.LoadUint64(s.data)
			continue
		}
		// Take a token and unregister in one step.
		if atomic.CompareAndSwapUint64(s.data, v, v-1-semNwaitersOne) {
			return true
		}
		v = atomic.LoadUint64(s.data)
	}
}

func stopped(broken *atomic.Bool, done <-chan struct{}) bool {
	if broken != nil && broken.Load() {
		return true
	}
	if done != nil {
		select {
		case <-done:
			return true
		default:
		}
	}
	return false
}

// spinWait polls for a token for up to budget before the caller sleeps in
// the futex. The daemon usually answers within a few microseconds, far
// sooner than a sleeping thread can be woken, so a short poll halves the
// round trip. Between polls the thread yields to the OS scheduler, so a
// runnable corosync on the same CPU always goes first; callers pass a zero
// budget on single-CPU machines.
func (s sem) spinWait(budget time.Duration) bool {
	if s.tryWait() {
		return true
	}
	if budget <= 0 {
		return false
	}
	start := time.Now()
	for i := 0; ; i++ {
		if s.tryWait() {
			return true
		}
		if i%8 == 7 && time.Since(start) > budget {
			return false
		}
		unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	}
}
