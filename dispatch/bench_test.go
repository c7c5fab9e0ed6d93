package dispatch

import (
	"context"
	"fmt"
	"testing"
)

// benchEvent is about the size of quorum.Event.
type benchEvent struct {
	Kind    int
	Quorate bool
	Ring    [2]uint64
	Members []uint32
	Skipped uint64
	Err     error
}

var subCounts = []int{1, 100, 10000}

func benchDispatcher(b *testing.B, n int, opt SubOption) (*Dispatcher[benchEvent], []*Subscription[benchEvent]) {
	// A source that never produces: the benchmark publishes directly, as the
	// dispatcher goroutine would, so only fan-out is measured.
	d := Start(context.Background(), func(ctx context.Context) (benchEvent, error) {
		<-ctx.Done()
		return benchEvent{}, ctx.Err()
	}, WithCoalesce(func(old, next benchEvent) benchEvent {
		next.Skipped += old.Skipped + 1
		return next
	}))
	b.Cleanup(func() { d.Close() })
	subs := make([]*Subscription[benchEvent], n)
	for i := range subs {
		s, err := d.Subscribe(opt)
		if err != nil {
			b.Fatal(err)
		}
		subs[i] = s
	}
	return d, subs
}

func perSub(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/sub")
}

// Idle subscribers: every event replaces the undelivered one (latest wins).
// The bare loop does the same channel work: empty the one-slot channel, send.
func BenchmarkFanoutIdle(b *testing.B) {
	ev := benchEvent{Members: []uint32{1, 2, 3}}
	for _, n := range subCounts {
		b.Run(fmt.Sprintf("dispatch/subs=%d", n), func(b *testing.B) {
			d, _ := benchDispatcher(b, n, LatestWins())
			d.publish(ev)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.publish(ev)
			}
			perSub(b, n)
		})
		b.Run(fmt.Sprintf("bare-chan/subs=%d", n), func(b *testing.B) {
			chans := make([]chan benchEvent, n)
			for i := range chans {
				chans[i] = make(chan benchEvent, 1)
				chans[i] <- ev
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, ch := range chans {
					select {
					case ch <- ev:
					default:
						select {
						case <-ch:
						default:
						}
						select {
						case ch <- ev:
						default:
						}
					}
				}
			}
			perSub(b, n)
		})
	}
}

// Attentive subscribers: each event finds an empty mailbox and is then
// received. The bare loop sends and receives on the same number of channels.
func BenchmarkFanoutConsumed(b *testing.B) {
	ev := benchEvent{Members: []uint32{1, 2, 3}}
	for _, n := range subCounts {
		b.Run(fmt.Sprintf("dispatch/subs=%d", n), func(b *testing.B) {
			d, subs := benchDispatcher(b, n, LatestWins())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.publish(ev)
				for _, s := range subs {
					<-s.ch
				}
			}
			perSub(b, n)
		})
		b.Run(fmt.Sprintf("bare-chan/subs=%d", n), func(b *testing.B) {
			chans := make([]chan benchEvent, n)
			for i := range chans {
				chans[i] = make(chan benchEvent, 1)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, ch := range chans {
					select {
					case ch <- ev:
					default:
					}
				}
				for _, ch := range chans {
					<-ch
				}
			}
			perSub(b, n)
		})
	}
}
