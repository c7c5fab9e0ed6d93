package cmap

import (
	"fmt"
	"strings"

	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// TrackFlags select what a track reports (CMAP_TRACK_*): at least one of
// TrackAdd, TrackDelete, TrackModify, plus TrackPrefix to make the key a
// prefix.
type TrackFlags int32

// Track flags.
const (
	TrackAdd    = TrackFlags(cmapwire.TrackAdd)    // a key was created
	TrackDelete = TrackFlags(cmapwire.TrackDelete) // a key was deleted
	TrackModify = TrackFlags(cmapwire.TrackModify) // a key's value (or type) changed
	TrackPrefix = TrackFlags(cmapwire.TrackPrefix) // the tracked name is a prefix ("" tracks every key)
	// TrackChanges is add, delete and modify.
	TrackChanges = TrackAdd | TrackDelete | TrackModify
)

// String renders the flags as "add|delete|modify|prefix" (unknown bits in
// hex).
func (f TrackFlags) String() string { return cmapwire.TrackFlags(f).String() }

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventAdd: Key was created with value New (Old is the zero Value).
	EventAdd EventKind = iota + 1
	// EventDelete: Key was deleted; Old is its last value (New is zero).
	EventDelete
	// EventModify: Key changed from Old to New (possibly changing type).
	// Daemon counters may leave Old zero.
	EventModify
	// EventDisconnected: the connection to the daemon was lost; Err says
	// why. Changes are not reported until EventReconnected.
	EventDisconnected
	// EventReconnected: the connection is back and the track is registered
	// again. Changes made while the client was away (a restarted daemon
	// rebuilds its whole map) were not reported: re-read what the track
	// covers (Client.Get, Client.IterValues) to resynchronise.
	EventReconnected
)

var kindNames = [...]string{"", "add", "delete", "modify", "disconnected", "reconnected"}

// String returns the kind's name, e.g. "modify".
func (k EventKind) String() string { return session.KindName(kindNames[:], uint8(k)) }

// MarshalText implements encoding.TextMarshaler.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is what a Track delivers: a change of one key (EventAdd,
// EventDelete, EventModify: cmap_notify_fn's arguments) or a connection
// lifecycle event.
type Event struct {
	Kind EventKind
	// Key is the key that changed.
	Key string
	// New is the value after the change and Old the value before it; the
	// zero Value (TypeNone) when there is none.
	New, Old Value
	// Skipped is how many events this track's reader missed just before
	// this one because it was slower than the daemon (latest-wins policy).
	Skipped uint64
	// Err is why the connection was lost (EventDisconnected).
	Err error
}

// String renders the event on one line, e.g.
// "modify: totem.token u32(1000) -> u32(3000)".
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	b.WriteString(": ")
	switch e.Kind {
	case EventAdd:
		fmt.Fprintf(&b, "%s = %#v", e.Key, e.New)
	case EventDelete:
		fmt.Fprintf(&b, "%s (was %#v)", e.Key, e.Old)
	case EventModify:
		fmt.Fprintf(&b, "%s %#v -> %#v", e.Key, e.Old, e.New)
	case EventDisconnected:
		b.WriteString("connection lost")
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(e.Err.Error())
		}
	case EventReconnected:
		b.WriteString("track registered again; changes may have been missed")
	}
	if e.Skipped > 0 {
		fmt.Fprintf(&b, " (skipped %d)", e.Skipped)
	}
	return b.String()
}

func kindOf(f cmapwire.TrackFlags) (EventKind, bool) {
	switch f {
	case cmapwire.TrackAdd:
		return EventAdd, true
	case cmapwire.TrackDelete:
		return EventDelete, true
	case cmapwire.TrackModify:
		return EventModify, true
	}
	return 0, false
}
