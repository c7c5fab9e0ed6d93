package dispatch_test

import (
	"context"
	"errors"
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
)

// A Feed is a stream its owner pushes to directly; it ends the same way as
// every stream of the module.
func ExampleNewFeed() {
	feed, s := dispatch.NewFeed[string]("example", nil, dispatch.Queue(2))
	feed.Push("a")
	feed.Push("b")
	feed.Push("c") // the reader fell behind its queue: the stream ends
	for ev, err := range s.All(context.Background()) {
		if err != nil {
			fmt.Println(errors.Is(err, dispatch.ErrOverflow), errors.Is(err, corosync.ErrQueueFull))
			break
		}
		fmt.Println(ev)
	}
	fmt.Println("skipped", s.Skipped())
	// Output:
	// a
	// b
	// true true
	// skipped 1
}

// Close ends a stream with ErrClosed at once; Run then returns nil.
func ExampleSubscription_Close() {
	feed, s := dispatch.NewFeed[int]("example", nil, dispatch.Unbounded())
	feed.Push(1)
	s.Close()
	err := s.Run(context.Background(), func(int) error { return nil })
	fmt.Println(err, errors.Is(s.Err(), dispatch.ErrClosed), errors.Is(s.Err(), corosync.ErrBadHandle))
	fmt.Println(s.Err())
	// Output:
	// <nil> true true
	// example: closed (CS_ERR_BAD_HANDLE)
}
