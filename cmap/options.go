package cmap

import (
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
)

type config struct {
	session.Options
	m Map
}

// WithMap selects the map the client works on (cmap_initialize_map):
// MapICMap (the default) or MapStats, the read-only statistics. The choice
// holds for the client's lifetime and is restored after a reconnect.
//
// The stats map needs corosync 3.0 (SET_CURRENT_MAP arrived in 2.99; a
// corosync 2.x daemon dies on that request): on 2.x, Dial with MapStats
// fails with corosync.ErrNotSupported and nothing is sent. corosync 2.x
// keeps its statistics in the main map instead: the IPC connection
// counters under runtime.connections.* and totem's under
// runtime.totem.pg.* (e.g. runtime.totem.pg.mrp.srp.mcast_tx), read with
// a client on MapICMap.
func WithMap(m Map) client.Option {
	return client.ForService("cmap.WithMap", func(c *config) { c.m = m })
}

// SubscribeOption configures a track's delivery policy; see package dispatch
// for the policies.
type SubscribeOption = dispatch.SubOption

// LatestWins selects latest-wins delivery (the default): a slow reader skips
// to the newest change and Event.Skipped says how many it missed. Right for
// an exact key (the newest value wins); use Queue to see every change of a
// prefix.
func LatestWins() SubscribeOption { return dispatch.LatestWins() }

// Queue selects a bounded queue of n events; on overflow the track's
// delivery ends with dispatch.ErrOverflow (corosync.ErrQueueFull) after the
// queued events have been read.
func Queue(n int) SubscribeOption { return dispatch.Queue(n) }

// Block selects blocking delivery: nothing is lost, but while this track's
// reader does not read, the client's event pump waits, and so does every
// other track of the client.
func Block(n int) SubscribeOption { return dispatch.Block(n) }
