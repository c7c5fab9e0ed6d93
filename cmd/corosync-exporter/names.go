package main

import (
	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/transport"
)

var (
	votequorumNotExist = corosync.ErrNotExist
	cfgUnknownNode     = corosync.ErrFailedOperation
)

// cmapNames returns the source of node names (cmap's nodelist.node.N.name).
// Until the cmap client is wired in, names are the node ids.
func cmapNames(d transport.Dialer) nameSource { return nil }
