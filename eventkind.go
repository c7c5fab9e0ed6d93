package corosync

import (
	"fmt"
	"strconv"
	"strings"
)

// EventKind says what an event of any service's stream reports: the Kind
// field of quorum.Event, votequorum.Event, cfg.Event, cmap.Event and
// cpg.Event. Every kind is declared once, here, whichever services deliver
// it: the connection lifecycle (EventSnapshot, EventDisconnected,
// EventReconnected) means the same in every service, and each service kind
// says which service delivers it. What an event carries on each kind is
// documented on the service's Event type.
//
// A kind renders and marshals as its name ("quorum", "disconnected"); a
// value without a name renders as "EventKind(n)".
type EventKind uint8

// The connection lifecycle, common to every service's stream.
const (
	// EventSnapshot is the current state: the first event of a subscription
	// to a service that has state (quorum, votequorum, cfg), and the fresh
	// state after a reconnect. cmap tracks and cpg groups have no snapshot.
	EventSnapshot EventKind = iota + 1
	// EventDisconnected: the connection to the daemon was lost; the event's
	// Err says why. Nothing is reported until EventReconnected (or the end
	// of the stream, when the client does not reconnect).
	EventDisconnected
	// EventReconnected: the connection is back, with what the client had
	// registered (tracking, tracks, a group's membership) registered again.
	// What happened while the client was away was not reported.
	EventReconnected
)

// The service kinds: each is delivered by the service its doc names.
const (
	// EventQuorum (quorum, votequorum) is a quorum notification: quorate,
	// the ring or the membership changed (votequorum: or a node's state).
	EventQuorum EventKind = iota + EventReconnected + 1
	// EventNodelist (quorum model V1, votequorum) is a nodelist
	// notification: a new ring formed, with its members (quorum: and who
	// joined and who left). The EventQuorum for the same ring follows.
	EventNodelist
	// EventExpectedVotes (votequorum) is an expected-votes notification:
	// the local node's expected votes were set.
	EventExpectedVotes
	// EventShutdownRequest (cfg, with WithShutdownTracking): the daemon asks
	// this tracker whether it may shut down; answer with
	// cfg.Client.ReplyShutdown.
	EventShutdownRequest
	// EventShutdownTimedOut (cfg): a shutdown request this client issued
	// itself timed out waiting for the trackers. It must not be answered.
	EventShutdownTimedOut
	// EventAdd (cmap) is a key created (cmap_notify_fn with CMAP_TRACK_ADD).
	EventAdd
	// EventDelete (cmap) is a key deleted (CMAP_TRACK_DELETE).
	EventDelete
	// EventModify (cmap) is a key's value changed (CMAP_TRACK_MODIFY).
	EventModify
	// EventMessage (cpg) is a message delivered to a group (cpg_deliver_fn).
	EventMessage
	// EventConfchg (cpg) is a change of a group's membership
	// (cpg_confchg_fn).
	EventConfchg
	// EventTotem (cpg) is a change of the cluster membership
	// (cpg_totem_confchg_fn).
	EventTotem
	// EventQdeviceExtraInfo (votequorum, corosync main only) is a quorum
	// device extra info notification: a node's device set or cleared its
	// extra info, or the daemon sent it again after a membership change
	// (votequorum_qdevice_extra_info_fn).
	EventQdeviceExtraInfo

	// numKinds is one past the last kind.
	numKinds
)

var kindNames = [numKinds]string{
	EventSnapshot:         "snapshot",
	EventDisconnected:     "disconnected",
	EventReconnected:      "reconnected",
	EventQuorum:           "quorum",
	EventNodelist:         "nodelist",
	EventExpectedVotes:    "expectedvotes",
	EventShutdownRequest:  "shutdown-request",
	EventShutdownTimedOut: "shutdown-timed-out",
	EventAdd:              "add",
	EventDelete:           "delete",
	EventModify:           "modify",
	EventMessage:          "message",
	EventConfchg:          "confchg",
	EventTotem:            "totem",
	EventQdeviceExtraInfo: "qdevice-extra-info",
}

// String returns the kind's name, e.g. "quorum", or "EventKind(n)" for a
// value that is no kind.
func (k EventKind) String() string {
	if k < numKinds && kindNames[k] != "" {
		return kindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText implements encoding.TextMarshaler: the kind's name, as String
// returns it.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: it accepts what
// MarshalText produces, a kind's name or "EventKind(n)", and refuses
// anything else with an error naming the text.
func (k *EventKind) UnmarshalText(text []byte) error {
	s := string(text)
	for i, name := range kindNames {
		if name != "" && name == s {
			*k = EventKind(i)
			return nil
		}
	}
	if num, ok := strings.CutPrefix(s, "EventKind("); ok {
		if num, ok = strings.CutSuffix(num, ")"); ok {
			if n, err := strconv.ParseUint(num, 10, 8); err == nil && strconv.FormatUint(n, 10) == num && (n >= uint64(numKinds) || kindNames[n] == "") {
				*k = EventKind(n)
				return nil
			}
		}
	}
	return fmt.Errorf("corosync: unknown event kind %q", s)
}
