package cmap

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// TrackFlags select what a track reports (CMAP_TRACK_*): at least one of
// TrackAdd, TrackDelete, TrackModify, plus TrackPrefix to make the key a
// prefix.
type TrackFlags int32

// Track flags.
const (
	TrackAdd    TrackFlags = 4 // a key was created (CMAP_TRACK_ADD)
	TrackDelete TrackFlags = 1 // a key was deleted (CMAP_TRACK_DELETE)
	TrackModify TrackFlags = 2 // a key's value (or type) changed (CMAP_TRACK_MODIFY)
	TrackPrefix TrackFlags = 8 // the tracked name is a prefix, "" tracks every key (CMAP_TRACK_PREFIX)
	// TrackChanges is add, delete and modify.
	TrackChanges = TrackAdd | TrackDelete | TrackModify
)

// String renders the flags as "add|delete|modify|prefix" (unknown bits in
// hex).
func (f TrackFlags) String() string { return cmapwire.TrackFlags(f).String() }

// Event is what a Track delivers: a change of one key (cmap_notify_fn's
// arguments) or a connection lifecycle event. Its kinds:
//
//   - corosync.EventAdd: Key was created with value New (Old is the zero
//     Value).
//   - corosync.EventDelete: Key was deleted; Old is its last value (New is
//     zero).
//   - corosync.EventModify: Key changed from Old to New (possibly changing
//     type). Daemon counters may leave Old zero.
//   - corosync.EventDisconnected: the connection was lost; Err says why.
//     Changes are not reported until corosync.EventReconnected.
//   - corosync.EventReconnected: the connection is back and the track is
//     registered again. Changes made while the client was away (a restarted
//     daemon rebuilds its whole map) were not reported: re-read what the
//     track covers (Client.Get, Client.IterValues) to resynchronise.
//
// A track has no snapshot: its first event is the first change.
type Event struct {
	Kind corosync.EventKind
	// Key is the key that changed.
	Key string
	// New is the value after the change and Old the value before it; the
	// zero Value (TypeNone) when there is none.
	New, Old Value
	// Skipped is how many events this track's reader missed just before
	// this one because it was slower than the daemon (latest-wins policy).
	Skipped uint64
	// Err is why the connection was lost (corosync.EventDisconnected).
	Err error
}

// String renders the event on one line, e.g.
// "modify: totem.token u32(1000) -> u32(3000)".
func (e Event) String() string {
	var body string
	switch e.Kind {
	case corosync.EventAdd:
		body = fmt.Sprintf("%s = %#v", e.Key, e.New)
	case corosync.EventDelete:
		body = fmt.Sprintf("%s (was %#v)", e.Key, e.Old)
	case corosync.EventModify:
		body = fmt.Sprintf("%s %#v -> %#v", e.Key, e.Old, e.New)
	case corosync.EventDisconnected:
		body = session.LostLine(e.Err)
	case corosync.EventReconnected:
		body = "track registered again; changes may have been missed"
	}
	return session.EventLine(e.Kind, body, e.Skipped)
}

func kindOf(f cmapwire.TrackFlags) (corosync.EventKind, bool) {
	switch f {
	case cmapwire.TrackAdd:
		return corosync.EventAdd, true
	case cmapwire.TrackDelete:
		return corosync.EventDelete, true
	case cmapwire.TrackModify:
		return corosync.EventModify, true
	}
	return 0, false
}
