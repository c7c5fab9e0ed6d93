package cmap

import (
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/session"
)

type config struct {
	session.Options
	m            Map
	daemonWrites bool
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

// WithDaemonKeyWrites lets the client write keys that corosync owns: the
// runtime.* keys of the main map and every key of the stats map. Without
// it Set (and SetUint32 ...), Delete, Inc and Dec refuse such a key before
// anything is sent, with a *DaemonKeyError (corosync.ErrAccess).
//
// corosync writes its runtime.* keys itself and most are for reading only:
// a value written there is not what the daemon thinks (it overwrites it at
// its next change), and tools reading it are misled. A few are triggers
// that corosync reads back and acts on; writing them is the reason to
// use this option (corosync 2.4.6, 3.0.4 and 3.1.10 sources, exec/main.c
// and exec/cfg.c):
//
//   - runtime.blackbox.dump_flight_data and runtime.blackbox.dump_state
//     (str): any change makes the daemon write its flight recorder (the
//     blackbox, what corosync-blackbox reads) or log its state.
//   - runtime.force_gather (str, 3.x): a change to anything but "no" forces
//     totem into the GATHER state (a new membership round); the daemon
//     sets it back to "no".
//   - runtime.members.<nodeid>.status (3.1): cfg's node kill reads it and
//     refuses a node that is not "joined".
//
// corosync itself refuses writes under runtime.config., runtime.services.
// and runtime.totem. (and runtime.connections. on 2.x) with
// corosync.ErrAccess whatever this option says, and on the stats map
// accepts only a Set of stats.clear.all, .totem, .knet, .ipc or
// .schedmiss, which reset those statistics.
func WithDaemonKeyWrites() client.Option {
	return client.ForService("cmap.WithDaemonKeyWrites", func(c *config) { c.daemonWrites = true })
}
