package status

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/votequorum"
)

// cmapPart is what a snapshot reads from cmap: configuration that changes
// only on a reload, cached by a Client between nodelist changes.
type cmapPart struct {
	clusterName, transport, provider string
	nodes                            map[uint32]confNode
}

// confNode is one node of the nodelist.
type confNode struct {
	name  string   // nodelist.node.N.name
	addrs []string // nodelist.node.N.ringL_addr by L
}

// display is the node's name as that release's corosync-quorumtool shows
// it: 2.x shows ring0_addr, 3.x the name; "" when the nodelist has none.
func (n confNode) display(v2 bool) string {
	if v2 {
		if len(n.addrs) > 0 {
			return n.addrs[0]
		}
		return ""
	}
	return n.name
}

// Snapshot reads the cluster's state. Quorum state comes from the quorum
// client's notifications (no round trip); votes, link status and
// statistics are read now, within ctx; the configuration (cluster name,
// nodelist) is read once and again only after it changed.
//
// The error is nil for a complete snapshot and a *PartialError when parts
// are missing: the snapshot then holds every other part, and its Missing
// says which parts are not there and why.
func (c *Client) Snapshot(ctx context.Context) (Snapshot, error) {
	cl := c.clients()
	r := &reader{ctx: ctx, cl: cl, nodes: map[uint32]*Node{}}
	r.s = Snapshot{Time: time.Now(), DaemonVersion: cl.version, Changes: cl.changes}
	r.read()
	s := r.s
	c.mu.Lock()
	if r.confLoaded && c.cm.c == cl.cm && c.confGen == cl.confGen {
		c.conf, c.confLoadedGen = r.conf, cl.confGen
	}
	c.last = s
	c.mu.Unlock()
	if len(s.Missing) > 0 {
		return s, &PartialError{Missing: s.Missing}
	}
	return s, nil
}

// reader is one snapshot's reads.
type reader struct {
	ctx        context.Context
	cl         clients
	s          Snapshot
	nodes      map[uint32]*Node
	conf       *cmapPart
	confLoaded bool
	qType      quorum.Type
	cfOK       bool
}

func (r *reader) miss(p Part, err error) {
	for _, m := range r.s.Missing {
		if m.Part == p {
			return
		}
	}
	r.s.Missing = append(r.s.Missing, &PartError{Part: p, Err: err})
}

func (r *reader) node(id uint32) *Node {
	n := r.nodes[id]
	if n == nil {
		n = &Node{ID: id}
		r.nodes[id] = n
	}
	return n
}

var partOrder = []Part{PartQuorum, PartVotequorum, PartCfg, PartCmap, PartStats}

func (r *reader) read() {
	cl, s := r.cl, &r.s
	v2 := olderThan3(cl.version)

	// quorum: the client's cached state.
	qOK := false
	if cl.q == nil {
		r.miss(PartQuorum, notConnected("quorum", cl.qErr))
	} else if ev := cl.q.Latest(); ev.Kind == corosync.EventDisconnected {
		r.miss(PartQuorum, notConnected("quorum", ev.Err))
	} else {
		qOK = true
		s.Quorate, s.Ring, s.Members = ev.Quorate, ev.Ring, slices.Clone(ev.Members)
		r.qType = cl.q.Type()
	}
	vqOK := cl.vq != nil && cl.vq.Latest().Kind != corosync.EventDisconnected
	if qOK && s.Ring.NodeID == 0 && vqOK {
		// The quorum service's V0 model (corosync 2.x and 3.0) carries
		// no representative node; quorumtool takes it from votequorum.
		s.Ring.NodeID = cl.vq.Latest().Ring.NodeID
	}

	// cfg: the local node id, cached at each (re)connect.
	r.cfOK = cl.cf != nil && cl.cf.Latest().Connected
	if !r.cfOK {
		var why error
		if cl.cf != nil {
			why = cl.cf.Latest().Err
		} else {
			why = cl.cfErr
		}
		r.miss(PartCfg, notConnected("cfg", why))
	} else if s.LocalNodeID = cl.cf.Latest().LocalNodeID; s.LocalNodeID == 0 {
		id, err := cl.cf.LocalNodeID(r.ctx)
		if err != nil {
			r.cfOK = false
			r.miss(PartCfg, err)
		}
		s.LocalNodeID = id
	}

	// cmap: the configuration and the nodelist.
	r.conf = cl.conf
	switch {
	case cl.cm == nil:
		r.miss(PartCmap, notConnected("cmap", cl.cmErr))
	case cl.confDirty:
		conf, err := readConf(r.ctx, cl.cm)
		if err != nil {
			r.miss(PartCmap, err)
		} else {
			r.conf, r.confLoaded = conf, true
		}
	}
	if r.conf != nil {
		s.ClusterName, s.Transport, s.Provider = r.conf.clusterName, r.conf.transport, r.conf.provider
		for id, cn := range r.conf.nodes {
			n := r.node(id)
			n.Configured = true
			n.Addrs = slices.Clone(cn.addrs)
			if name := cn.display(v2); name != "" {
				n.Name, n.NameFrom = name, NameNodelist
			}
		}
	}
	if s.Transport == "" {
		s.Transport = pick(v2, "udp", "knet")
	}
	if qOK && r.qType == quorum.QuorumFree {
		s.Provider = ""
	}
	for _, id := range s.Members {
		r.node(id).Member = true
	}

	r.votes(vqOK)
	if s.LocalNodeID != 0 {
		r.node(s.LocalNodeID).Local = true
	}
	if r.cfOK {
		if err := r.links(); err != nil {
			r.miss(PartCfg, err)
		}
	}
	// Members the nodelist does not name go by their first address, as
	// quorumtool shows them; members it lacks have the addresses cfg knows.
	if r.cfOK {
		for _, id := range s.Members {
			n := r.node(id)
			if n.NameFrom != NameNone && n.Configured {
				continue
			}
			addrs, err := cl.cf.NodeAddrs(r.ctx, id)
			if err != nil || len(addrs) == 0 {
				continue
			}
			if n.NameFrom == NameNone {
				n.Name, n.NameFrom = addrs[0].String(), NameAddress
			}
			if !n.Configured {
				for _, a := range addrs {
					n.Addrs = append(n.Addrs, a.String())
				}
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(r.nodes)) {
		n := r.nodes[id]
		slices.SortFunc(n.Links, func(a, b Link) int { return cmp.Compare(a.Number, b.Number) })
		s.Nodes = append(s.Nodes, *n)
	}
	if cl.stats {
		if err := r.stats(v2); err != nil {
			r.miss(PartStats, err)
		}
	}
	slices.SortStableFunc(s.Missing, func(a, b *PartError) int {
		return cmp.Compare(slices.Index(partOrder, a.Part), slices.Index(partOrder, b.Part))
	})
}

// votes reads getinfo of this node and of every node votequorum has seen
// and every member.
func (r *reader) votes(vqOK bool) {
	cl, s := r.cl, &r.s
	if !vqOK {
		var why error
		if cl.vq != nil {
			why = cl.vq.Latest().Err
		} else {
			why = cl.vqErr
		}
		r.miss(PartVotequorum, notConnected("votequorum", why))
		return
	}
	me, err := cl.vq.Info(r.ctx, 0)
	if err != nil {
		r.miss(PartVotequorum, err)
		return
	}
	if s.LocalNodeID == 0 {
		s.LocalNodeID = me.NodeID
	}
	s.Votes = &Votes{ExpectedVotes: me.NodeExpectedVotes, HighestExpected: me.HighestExpected,
		TotalVotes: me.TotalVotes, Quorum: me.Quorum, Flags: me.Flags}
	if me.QdeviceName != "" || me.Flags.Has(votequorum.FlagQdevice) {
		s.Qdevice = &Qdevice{Name: me.QdeviceName, Votes: me.QdeviceVotes,
			Registered: me.Flags.Has(votequorum.FlagQdevice), Alive: me.Flags.Has(votequorum.FlagQdeviceAlive),
			CastVote: me.Flags.Has(votequorum.FlagQdeviceCastVote), MasterWins: me.Flags.Has(votequorum.FlagQdeviceMasterWins)}
	}
	ids := []uint32{}
	for _, n := range cl.vq.Latest().Nodes {
		if n.NodeID != 0 { // 0: the quorum device
			r.node(n.NodeID).Seen = true
			ids = append(ids, n.NodeID)
		}
	}
	ids = append(ids, s.Members...)
	done := map[uint32]bool{}
	for _, id := range ids {
		if done[id] {
			continue
		}
		done[id] = true
		info := me
		if id != me.NodeID {
			if info, err = cl.vq.Info(r.ctx, id); errors.Is(err, corosync.ErrNotExist) {
				continue
			} else if err != nil {
				r.miss(PartVotequorum, err)
				return
			}
		}
		n := r.node(id)
		n.State, n.Votes, n.ExpectedVotes, n.Flags = info.State, info.NodeVotes, info.NodeExpectedVotes, info.Flags
		if info.Flags.Has(votequorum.FlagQdevice | votequorum.FlagQdeviceHasExtraInfo) {
			// corosync main. ACCESS: the configuration allows no device
			// (quorumtool then prints none either); NOT_EXIST: the node
			// left meanwhile.
			ei, err := cl.vq.QdeviceExtraInfo(r.ctx, id)
			switch {
			case err == nil:
				n.QdeviceExtraInfo = ei
			case !errors.Is(err, corosync.ErrAccess) && !errors.Is(err, corosync.ErrNotExist):
				r.miss(PartVotequorum, err)
				return
			}
		}
	}
}

// links reads every known node's link status: cfg's node status (corosync
// 3.1), or the old ring status that every release answers.
func (r *reader) links() error {
	cf, s := r.cl.cf, &r.s
	local := s.LocalNodeID
	self, err := cf.NodeStatus(r.ctx, local)
	if errors.Is(err, corosync.ErrNotSupported) {
		return r.ringStatus() // corosync 2.x and 3.0
	}
	if err != nil {
		return err
	}
	s.Links = LinksFromNodeStatus
	r.node(local)
	ids := slices.Sorted(maps.Keys(r.nodes))
	statuses := make(map[uint32]cfg.NodeStatus, len(ids))
	statuses[local] = self
	for _, id := range ids {
		if id == local {
			continue
		}
		st, err := cf.NodeStatus(r.ctx, id)
		if errors.Is(err, corosync.ErrFailedOperation) {
			continue // knet does not know the node
		} else if err != nil {
			return err
		}
		statuses[id] = st
	}
	// The cluster's links are those enabled towards any node: the local
	// node's own status lists only the link knet loops back on (link 0),
	// whatever links the cluster has (measured on 3.1.7 with two links;
	// corosync-cfgtool -s shows every link of the local node as
	// "localhost").
	var clusterLinks []int
	for l := range self.Links {
		for _, st := range statuses {
			if st.Links[l].Enabled {
				clusterLinks = append(clusterLinks, l)
				break
			}
		}
	}
	for _, id := range ids {
		st, ok := statuses[id]
		if !ok {
			continue
		}
		n := r.nodes[id]
		n.HasLinks, n.Reachable = true, st.Reachable || id == local
		for _, l := range clusterLinks {
			ls := st.Links[l]
			if id == local && !ls.Enabled {
				// A link of the cluster the local status does not list:
				// up to itself, at the local address the other nodes'
				// status gives it.
				ls.Enabled, ls.Connected = true, true
				for _, o := range statuses {
					if o.Links[l].Enabled && o.Links[l].Src != "" {
						ls.Src = o.Links[l].Src
						break
					}
				}
			}
			n.Links = append(n.Links, Link{Number: l, Enabled: ls.Enabled, Connected: ls.Connected,
				DynConnected: ls.DynConnected, MTU: ls.MTU, Src: ls.Src, Dst: ls.Dst})
		}
	}
	return nil
}

// readConf reads the cluster name, transport, quorum provider and the
// nodelist (nodelist.node.N.nodeid, .name and .ringL_addr).
func readConf(ctx context.Context, cm *cmap.Client) (*cmapPart, error) {
	conf := &cmapPart{nodes: map[uint32]confNode{}}
	for _, k := range []struct {
		key string
		dst *string
	}{{"totem.cluster_name", &conf.clusterName}, {"totem.transport", &conf.transport}, {"quorum.provider", &conf.provider}} {
		v, err := cm.GetString(ctx, k.key)
		if err != nil && !errors.Is(err, corosync.ErrNotExist) {
			return nil, err
		}
		*k.dst = v
	}
	ids, names, addrs := map[string]uint32{}, map[string]string{}, map[string][]string{}
	for e, err := range cm.IterValues(ctx, "nodelist.node.") {
		if err != nil {
			return nil, err
		}
		idx, field, ok := strings.Cut(strings.TrimPrefix(e.Key, "nodelist.node."), ".")
		if !ok {
			continue
		}
		switch field {
		case "nodeid":
			if v, ok := toUint64(e.Value); ok {
				ids[idx] = uint32(v)
			}
		case "name":
			if s, err := e.Value.Str(); err == nil {
				names[idx] = s
			}
		default:
			// ringL_addr: the node's address on link (ring) L.
			l, ok := strings.CutPrefix(field, "ring")
			l, ok2 := strings.CutSuffix(l, "_addr")
			link, err := strconv.Atoi(l)
			if !ok || !ok2 || err != nil || link < 0 || link >= cfg.MaxLinks {
				continue
			}
			if s, err := e.Value.Str(); err == nil {
				a := addrs[idx]
				for len(a) <= link {
					a = append(a, "")
				}
				a[link] = s
				addrs[idx] = a
			}
		}
	}
	for idx, id := range ids {
		conf.nodes[id] = confNode{name: names[idx], addrs: addrs[idx]}
	}
	return conf, nil
}

// toUint64 returns an unsigned (or non-negative signed) integer cmap value.
func toUint64(v cmap.Value) (uint64, bool) {
	switch v.Type() {
	case cmap.TypeUint8:
		x, err := v.Uint8()
		return uint64(x), err == nil
	case cmap.TypeUint16:
		x, err := v.Uint16()
		return uint64(x), err == nil
	case cmap.TypeUint32:
		x, err := v.Uint32()
		return uint64(x), err == nil
	case cmap.TypeUint64:
		x, err := v.Uint64()
		return x, err == nil
	case cmap.TypeInt8:
		x, err := v.Int8()
		return uint64(x), err == nil && x >= 0
	case cmap.TypeInt16:
		x, err := v.Int16()
		return uint64(x), err == nil && x >= 0
	case cmap.TypeInt32:
		x, err := v.Int32()
		return uint64(x), err == nil && x >= 0
	case cmap.TypeInt64:
		x, err := v.Int64()
		return uint64(x), err == nil && x >= 0
	}
	return 0, false
}

// stats reads the statistics part: knet's statistics of each link to
// each other node and the IPC counts from the stats map (3.x), or the IPC
// counts from the main map (2.x, which has no stats map).
func (r *reader) stats(v2 bool) error {
	cl := r.cl
	st := &Stats{}
	if v2 {
		if cl.cm == nil {
			return notConnected("cmap", cl.cmErr)
		}
		ipc, err := readIPC(r.ctx, cl.cm, "runtime.connections.")
		if err != nil {
			return err
		}
		st.IPC = ipc
		r.s.Stats = st
		return nil
	}
	if cl.st == nil {
		return notConnected("stats map", cl.stErr)
	}
	for _, n := range r.s.Nodes {
		if n.Local {
			continue // knet keeps no statistics of the loopback link
		}
		for _, l := range n.Links {
			if l.Unknown {
				continue
			}
			ls, ok, err := readLinkStats(r.ctx, cl.st, n.ID, l.Number)
			if err != nil {
				return err
			}
			if ok {
				st.Links = append(st.Links, ls)
			}
		}
	}
	ipc, err := readIPC(r.ctx, cl.st, "stats.ipcs.global.")
	if err != nil {
		return err
	}
	st.IPC = ipc
	r.s.Stats = st
	return nil
}

// readLinkStats reads stats.knet.nodeN.linkL.*: one GET per value. ok is
// false when the map has none of them.
func readLinkStats(ctx context.Context, st *cmap.Client, node uint32, link int) (LinkStats, bool, error) {
	ls := LinkStats{NodeID: node, Link: link}
	prefix := "stats.knet.node" + strconv.FormatUint(uint64(node), 10) + ".link" + strconv.Itoa(link) + "."
	us := func(d *time.Duration) func(uint64) {
		return func(x uint64) { *d = time.Duration(x) * time.Microsecond }
	}
	n := func(d *uint64) func(uint64) { return func(x uint64) { *d = x } }
	found := false
	for _, k := range []struct {
		key string
		set func(uint64)
	}{
		{"latency_ave", us(&ls.LatencyAvg)}, {"latency_min", us(&ls.LatencyMin)}, {"latency_max", us(&ls.LatencyMax)},
		{"up_count", n(&ls.UpCount)}, {"down_count", n(&ls.DownCount)},
		{"rx_data_packets", n(&ls.RxDataPackets)}, {"tx_data_packets", n(&ls.TxDataPackets)},
		{"rx_data_bytes", n(&ls.RxDataBytes)}, {"tx_data_bytes", n(&ls.TxDataBytes)},
		{"tx_total_errors", n(&ls.TxErrors)},
	} {
		v, err := st.Get(ctx, prefix+k.key)
		if errors.Is(err, corosync.ErrNotExist) {
			continue
		}
		if err != nil {
			return ls, false, err
		}
		if x, ok := toUint64(v); ok {
			k.set(x)
			found = true
		}
	}
	return ls, found, nil
}

// readIPC reads the IPC connection counts active and closed under prefix;
// nil when neither key exists.
func readIPC(ctx context.Context, c *cmap.Client, prefix string) (*IPCStats, error) {
	ipc, found := &IPCStats{}, false
	for _, k := range []struct {
		key string
		dst *uint64
	}{{"active", &ipc.Active}, {"closed", &ipc.Closed}} {
		v, err := c.Get(ctx, prefix+k.key)
		if errors.Is(err, corosync.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if x, ok := toUint64(v); ok {
			*k.dst, found = x, true
		}
	}
	if !found {
		return nil, nil
	}
	return ipc, nil
}
