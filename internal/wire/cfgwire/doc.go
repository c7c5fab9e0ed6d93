// Package cfgwire encodes and decodes the messages of corosync's cfg IPC
// service (include/corosync/ipc_cfg.h, corosync 3.1.7) in both directions:
// a client encodes requests and decodes responses and events; a fake daemon
// decodes requests and encodes responses and events.
//
// Every message starts with a libqb header whose int32 fields are each
// aligned to 8 bytes: requests have a 16-byte header {id@0, size@8},
// responses and events a 24-byte header {id@0, size@8, error@16} (package
// internal/wire). Padding is written as zero and ignored when read: the
// daemon leaves uninitialised stack bytes there. Byte layouts, sizes and the
// daemon behaviour measured against corosync 3.1.7 are in SPEC.md.
//
// Decoders check the declared size against the buffer and every count
// against what the buffer holds, name the offending field in a
// *wire.DecodeError (errors.Is(err, corosync.ErrMessageError) holds), and
// never panic. Encoders refuse what the daemon could not take, with an
// error carrying the corosync code the C library would return.
package cfgwire
