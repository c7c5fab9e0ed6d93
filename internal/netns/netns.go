// Package netns runs a function inside another network namespace without
// ever leaving a caller's goroutine (or an OS thread the runtime will reuse)
// in that namespace.
//
// The function runs on a goroutine of its own, locked to its OS thread for
// the whole visit. If the thread cannot return to its original namespace,
// the goroutine exits still locked, and the Go runtime destroys that thread
// instead of handing it to other goroutines. The caller's goroutine (which
// may be a dispatcher, or any goroutine of the user's program) never changes
// namespace. This is how mdlayher/socket and the Go netns idiom do it.
package netns

// Do runs fn in the network namespace at path (for example
// /var/run/netns/NAME or /proc/PID/ns/net) and returns its error. An empty
// path runs fn directly on the calling goroutine. Sockets created by fn keep
// the namespace they were created in after Do returns.
//
// On systems without network namespaces, Do with a non-empty path fails
// without calling fn.
func Do(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	return do(path, fn)
}
