// Package cmap is a client of corosync's cmap service, the daemon's
// configuration and runtime key/value map, in pure Go: read and write keys
// of every type, iterate over a prefix, and track changes.
//
//	c, err := cmap.Dial(ctx)
//	...
//	defer c.Close()
//	name, err := c.GetString(ctx, "totem.cluster_name")
//	for e, err := range c.IterValues(ctx, "runtime.members.") {
//		...
//	}
//	tr, err := c.Track(ctx, "runtime.members.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(64))
//	for ev := range tr.C() {
//		fmt.Println(ev) // e.g. "modify: runtime.members.3.status str("joined") -> str("left")"
//	}
//
// # Values
//
// A Value is typed (i8 ... u64, flt, dbl, str, bin). Get returns one; its
// typed getters (Value.Uint32, Value.Str, ...) fail with a *TypeError
// that names the key and both types when the key holds another type, and
// the Client's GetUint32, GetString, ... combine the two. Value.Uint and
// Value.Int (Client.GetUint, Client.GetInt) read an integer of any width,
// for keys whose width differs between releases. A Value prints (String)
// as corosync-cmapctl prints it. Set stores any
// Value; SetUint32, SetString, ... build it for you. Keys, prefixes and
// values are checked before anything is sent, with errors that say what is
// wrong (*KeyError, *ValueError): keys are 3..255 bytes of a-z A-Z 0-9 . _
// - / :, strings at most MaxStringLen bytes without a NUL byte, binaries at
// most MaxValueLen bytes.
//
// # Keys corosync owns
//
// The runtime.* keys of the main map and every key of the stats map belong
// to corosync: it writes them, and reads a few back as triggers. Set,
// Delete, Inc and Dec refuse them with a *DaemonKeyError
// (corosync.ErrAccess) before anything is sent, unless the client was
// dialled with WithDaemonKeyWrites, whose documentation lists the keys
// corosync acts on. docs/cmap-keys.md in the module's repository describes
// the runtime and stats key families: name, type, meaning.
//
// # Iteration
//
// Iter and IterValues are range-over-func iterators over the keys with a
// prefix. Iter makes one daemon round trip per key; IterValues pipelines
// its requests on the connection (the GETs of the keys found so far and
// the next ITER_NEXTs in one batch, up to 8 keys ahead), about one wait
// per 8 keys. The daemon's iterator is always finalised: when the loop
// ends, breaks, or its ctx ends.
// On corosync 2.x they never let the daemon's iterator into
// runtime.connections., which crashes it under connection churn (see Iter).
//
// # Tracking
//
// A client holds any number of tracks. Each Track is one tracker on the daemon
// with its own delivery: one event pump per client reads the daemon's
// notifications and delivers each straight into its track's stream under the
// policy chosen at Track (dispatch.LatestWins by default; dispatch.Queue to
// see every change; dispatch.Unbounded; dispatch.Block). A Track is a
// dispatch.Subscription, read like every stream of this module: Next, TryNext,
// Drain, Run, C, All, Err, Skipped.
//
// # Restarts
//
// When the daemon goes away, every track delivers corosync.EventDisconnected
// and requests fail with ErrNotConnected (corosync.ErrLibrary). The client
// reconnects with backoff, selects its map again, registers every track again,
// and each track delivers corosync.EventReconnected: changes made meanwhile (a
// restarted daemon rebuilds its whole map) were not seen, so re-read what the
// track covers. Then changes flow again.
//
// # Testing
//
// Package mock serves cmap: hand a mock node to WithDialer and the client
// talks to a fake daemon whose map has corosync 3.1.7's keys and types
// (configuration, runtime.members.*, runtime.votequorum.*, the stats map),
// whose runtime keys and track events follow the fake cluster's kills,
// restarts and partitions, and whose answers (read-only keys, error codes)
// are the daemon's. The examples of this package run against it.
//
// # Requests this package never sends
//
// Some requests corrupt or crash corosync: a GET with a buffer smaller
// than a stats value (3.1.7), a size-only GET of a stats.schedmiss key
// (3.1.7), exact tracking of a string stats key (3.1.7), a request between
// an ITER_INIT and its first ITER_NEXT, and on 2.x an iterator standing
// in runtime.connections. under connection churn. No GET is size-only;
// every GET on the stats map offers a buffer that holds any value (on the
// main map, which checks the buffer, IterValues offers the length the
// iteration reported, and a full buffer if the value grew); exact tracking
// of stats.*.procname is refused with a *DangerError; an ITER_INIT and its
// first ITER_NEXT are sent back to back; and Iter walks around
// runtime.connections. on 2.x.
//
// # From libcmap to Go
//
//	libcmap                                     corosync-go
//	------------------------------------------  ----------------------------------------------------
//	cmap_initialize                             cmap.Dial(ctx, opts...)
//	cmap_initialize_map(CMAP_MAP_STATS)         cmap.Dial(ctx, cmap.WithMap(cmap.MapStats))
//	cmap_finalize                               Client.Close()
//	cmap_get(h, key, buf, &len, &type)          Client.Get(ctx, key) -> Value (Value.Type, Value.Bytes)
//	cmap_get(h, key, NULL, &len, &type)         (no size-only GET; Get, or Entry.Type/Len from Iter)
//	cmap_get_uint32 ... cmap_get_double         Client.GetUint32(ctx, key) ... Client.GetDouble
//	cmap_get_string (malloc'd copy)             Client.GetString(ctx, key)
//	cmap_set(h, key, value, len, type)          Client.Set(ctx, key, cmap.Uint32(5)) ...
//	cmap_set_uint32 ... cmap_set_string         Client.SetUint32(ctx, key, v) ... Client.SetString; SetBinary
//	cmap_delete                                 Client.Delete(ctx, key)
//	cmap_inc / cmap_dec                         Client.Inc(ctx, key) / Client.Dec(ctx, key)
//	cmap_iter_init + cmap_iter_next             for e, err := range Client.Iter(ctx, prefix)  (Entry.Key/Type/Len)
//	  + cmap_get per key                        for e, err := range Client.IterValues(ctx, prefix)  (Entry.Value)
//	cmap_iter_finalize                          done when the loop ends (break and ctx included)
//	cmap_track_add(h, key, type, fn, ud, &th)   Client.Track(ctx, key, flags, opts...) -> *Track
//	  CMAP_TRACK_ADD/DELETE/MODIFY/PREFIX         TrackAdd, TrackDelete, TrackModify, TrackPrefix
//	cmap_notify_fn(event, key, new, old)        Event{Kind, Key, New, Old}: corosync.EventAdd/Delete/Modify
//	cmap_track_delete                           Track.Close()
//	cmap_fd_get + poll                          Track.C() in a select
//	cmap_dispatch(CS_DISPATCH_ONE)              Track.Next(ctx)
//	cmap_dispatch(CS_DISPATCH_ONE_NONBLOCKING)  Track.TryNext()
//	cmap_dispatch(CS_DISPATCH_ALL)              Track.Drain()
//	cmap_dispatch(CS_DISPATCH_BLOCKING)         Track.Run(ctx, fn)
//	cmap_context_set / _get, user_data          (not needed: closures)
//	cs_error_t                                  corosync.Error in every error (errors.Is)
//
// Differences from the C library: one Track per cmap_track_add, each with
// its own delivery, instead of one callback dispatch per handle; tracks
// survive daemon restarts (libcmap's handle dies with the connection);
// strings are stored with their NUL as cmap_set_string does, and a string
// with a NUL inside is refused (the C library would cut it there); the
// ITER_INIT prefix hazard and the crashing stats requests above cannot be
// sent.
//
// Every call takes a context and every error carries a corosync.Error code.
package cmap
