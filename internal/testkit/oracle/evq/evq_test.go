package evq

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitTakesOnceEnough(t *testing.T) {
	var q Queue[int]
	calls := 0
	got, err := q.Wait(context.Background(), 3, func() error {
		calls++
		q.Push(calls)
		return nil
	})
	if err != nil || len(got) != 3 || got[2] != 3 || q.Len() != 0 {
		t.Fatalf("Wait = %v, %v (left %d)", got, err, q.Len())
	}
	boom := errors.New("dispatch failed")
	q.Push(9)
	if got, err := q.Wait(context.Background(), 5, func() error { return boom }); !errors.Is(err, boom) || len(got) != 1 {
		t.Fatalf("dispatch error: %v %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Wait(ctx, 1, func() error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx end: %v", err)
	}
}
