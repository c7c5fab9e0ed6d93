package cmap

import (
	"context"
	"iter"
)

// SetTestHookNext makes f see every key an ITER_NEXT returns (nil: none).
func SetTestHookNext(f func(key string)) { testHookNext = f }

// IterUnguarded iterates prefix with one daemon iterator, whatever the
// daemon's release: what Iter does on 3.x.
func IterUnguarded(c *Client, ctx context.Context, prefix string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		b := getBufs()
		defer putBufs(b)
		conn, err := c.s.Current()
		if err != nil {
			yield(Entry{}, err)
			return
		}
		it := iteration{c: c, ctx: ctx, conn: conn, b: b, yield: yield}
		it.walk(prefix)
	}
}
