package quorum

import (
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/session"
)

// Model selects the notification model of a connection.
type Model uint32

const (
	// ModelV0 delivers only quorum notifications, with ring_seq but no
	// representative node id (libquorum's quorum_initialize).
	ModelV0 Model = 0
	// ModelV1 adds nodelist notifications (members, joined, left) and full
	// ring ids (quorum_model_initialize with QUORUM_MODEL_V1). It needs
	// corosync 3.1; without WithModel, Dial uses it wherever the daemon has
	// it.
	ModelV1 Model = 1
)

// String returns "v0" or "v1".
func (m Model) String() string {
	if m == ModelV0 {
		return "v0"
	}
	return "v1"
}

// Type is the daemon's quorum type (quorum_initialize's quorum_type).
type Type uint32

const (
	// QuorumFree: no quorum provider is configured; the node is always quorate.
	QuorumFree Type = 0
	// QuorumSet: a provider (votequorum) decides quorum.
	QuorumSet Type = 1
)

// String returns "QUORUM_FREE" or "QUORUM_SET".
func (t Type) String() string {
	if t == QuorumFree {
		return "QUORUM_FREE"
	}
	return "QUORUM_SET"
}

type config struct {
	session.Options
	model    Model
	modelSet bool
}

// WithModel selects the notification model. Without it, a client uses
// ModelV1 where the daemon has it (corosync 3.1, as far as its release can
// be told: see corosync.Version) and ModelV0 otherwise, choosing again at
// each reconnect; Client.Model says which is in use. An explicit ModelV1
// on an older daemon fails with corosync.ErrNotSupported, and nothing is
// sent.
func WithModel(m Model) client.Option {
	return client.ForService("quorum.WithModel", func(c *config) { c.model, c.modelSet = m, true })
}
