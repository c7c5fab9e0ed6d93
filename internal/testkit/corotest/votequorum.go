package corotest

import (
	"fmt"
	"strings"
)

// Votequorum holds votequorum settings for a cluster's configuration (see
// votequorum(5)). The zero value adds nothing to corosync.conf.
type Votequorum struct {
	// ExpectedVotes sets quorum.expected_votes (0: not set).
	ExpectedVotes int
	WaitForAll    bool
	// NoWaitForAll writes an explicit wait_for_all: 0 (which otherwise
	// follows two_node).
	NoWaitForAll bool
	// LastManStanding enables last_man_standing, with
	// LastManStandingWindowMS as its window (0: corosync's default).
	LastManStanding         bool
	LastManStandingWindowMS int
	AutoTieBreaker          bool
	// AutoTieBreakerNode sets auto_tie_breaker_node ("lowest", "highest"
	// or node ids separated by spaces; "": not set).
	AutoTieBreakerNode string
	AllowDownscale     bool
	// Votes sets nodelist.node.quorum_votes per node id (absent: 1).
	Votes map[uint32]int
	// Device, when set, adds a quorum.device section. No qdevice daemon is
	// started: a test registers its own device through votequorum's IPC.
	Device *Device
}

// Device is a quorum.device section.
type Device struct {
	Votes         int    // quorum.device.votes (0: not set)
	Model         string // quorum.device.model (default "net")
	TimeoutMS     int    // quorum.device.timeout (0: corosync's 10000)
	SyncTimeoutMS int    // quorum.device.sync_timeout (0: corosync's 30000)
	// Net, when set, adds the quorum.device.net section (model net).
	Net *DeviceNet
}

// DeviceNet is a quorum.device.net section.
type DeviceNet struct {
	Host      string // qnetd's address
	Algorithm string // "ffsplit" (default) or "lms"
	TLS       string // "on" (default), "off" or "required"
}

// writeQuorum writes the votequorum keys into an open quorum section.
func (v Votequorum) writeQuorum(b *strings.Builder) {
	if v.ExpectedVotes > 0 {
		fmt.Fprintf(b, "\texpected_votes: %d\n", v.ExpectedVotes)
	}
	if v.WaitForAll {
		b.WriteString("\twait_for_all: 1\n")
	} else if v.NoWaitForAll {
		b.WriteString("\twait_for_all: 0\n")
	}
	if v.LastManStanding {
		b.WriteString("\tlast_man_standing: 1\n")
		if v.LastManStandingWindowMS > 0 {
			fmt.Fprintf(b, "\tlast_man_standing_window: %d\n", v.LastManStandingWindowMS)
		}
	}
	if v.AutoTieBreaker {
		b.WriteString("\tauto_tie_breaker: 1\n")
		if v.AutoTieBreakerNode != "" {
			fmt.Fprintf(b, "\tauto_tie_breaker_node: %s\n", v.AutoTieBreakerNode)
		}
	}
	if v.AllowDownscale {
		b.WriteString("\tallow_downscale: 1\n")
	}
	if d := v.Device; d != nil {
		model := d.Model
		if model == "" {
			model = "net"
		}
		fmt.Fprintf(b, "\tdevice {\n\t\tmodel: %s\n", model)
		if d.Votes > 0 {
			fmt.Fprintf(b, "\t\tvotes: %d\n", d.Votes)
		}
		if d.TimeoutMS > 0 {
			fmt.Fprintf(b, "\t\ttimeout: %d\n", d.TimeoutMS)
		}
		if d.SyncTimeoutMS > 0 {
			fmt.Fprintf(b, "\t\tsync_timeout: %d\n", d.SyncTimeoutMS)
		}
		if n := d.Net; n != nil {
			fmt.Fprintf(b, "\t\tnet {\n\t\t\thost: %s\n", n.Host)
			if n.Algorithm != "" {
				fmt.Fprintf(b, "\t\t\talgorithm: %s\n", n.Algorithm)
			}
			if n.TLS != "" {
				fmt.Fprintf(b, "\t\t\ttls: %s\n", n.TLS)
			}
			b.WriteString("\t\t}\n")
		}
		b.WriteString("\t}\n")
	}
}

// nodeKeys returns the extra nodelist.node keys of node id.
func (v Votequorum) nodeKeys(id uint32) string {
	if n, ok := v.Votes[id]; ok {
		return fmt.Sprintf("\t\tquorum_votes: %d\n", n)
	}
	return ""
}
