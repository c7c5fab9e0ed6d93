package mock

import (
	"fmt"
	"slices"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// The cmap service, as corosync 3.1.7's exec/cmap.c, exec/icmap.c and
// exec/stats.c answer it (measured: internal/wire/cmapwire/SPEC.md and
// TestCmapMockEqualsReal).
//
// Every node keeps its own icmap: the configuration keys of the cluster
// (totem.*, nodelist.*, quorum.*), the runtime keys the daemon keeps
// (runtime.members.*, runtime.votequorum.*, runtime.config.totem.*,
// runtime.services.*, ...) and whatever clients set. Membership changes
// update runtime.members.* and runtime.votequorum.* as the daemon does and
// notify the trackers; a (re)started node rebuilds its map from the
// configuration, so keys set by clients are gone, as on a restarted daemon.
//
// The stats map (SET_CURRENT_MAP 1) holds the totem, knet and global IPC
// counters with the real names and types; they stay at zero but for the
// knet link state, which follows membership. Trackers on the stats map are
// accepted as the daemon accepts them and never fire.

// cmapNode is a node's cmap state; it lives while the node's daemon runs.
type cmapNode struct {
	icmap *kvmap
}

// kvmap is a cmap map: values by key, and the keys in the daemon's
// iteration order (byte order).
type kvmap struct {
	items map[string]cmapwire.Value
	keys  []string // sorted
}

func newKVMap() *kvmap { return &kvmap{items: map[string]cmapwire.Value{}} }

func (m *kvmap) get(key string) (cmapwire.Value, bool) {
	v, ok := m.items[key]
	return v, ok
}

func (m *kvmap) put(key string, v cmapwire.Value) {
	if _, ok := m.items[key]; !ok {
		i, _ := slices.BinarySearch(m.keys, key)
		m.keys = slices.Insert(m.keys, i, key)
	}
	m.items[key] = v
}

func (m *kvmap) del(key string) {
	if i, ok := slices.BinarySearch(m.keys, key); ok {
		m.keys = slices.Delete(m.keys, i, i+1)
	}
	delete(m.items, key)
}

// next returns the first key after after (or the first key, when first)
// that starts with prefix.
func (m *kvmap) next(prefix, after string, first bool) (string, cmapwire.Value, bool) {
	var i int
	if first {
		i, _ = slices.BinarySearch(m.keys, prefix)
	} else {
		var found bool
		i, found = slices.BinarySearch(m.keys, after)
		if found {
			i++
		}
	}
	if i < len(m.keys) && strings.HasPrefix(m.keys[i], prefix) {
		return m.keys[i], m.items[m.keys[i]], true
	}
	return "", cmapwire.Value{}, false
}

// The keys corosync 3.1.7 makes read-only (exec/main.c, totemconfig.c,
// votequorum.c icmap_set_ro_access): prefixes and exact names.
var (
	roPrefixes = []string{"internal_configuration.", "runtime.services.", "runtime.config.", "runtime.totem.",
		"uidgid.config.", "system.", "nodelist."}
	roKeys = []string{"totem.crypto_cipher", "totem.crypto_hash", "totem.crypto_model", "totem.keyfile", "totem.key",
		"totem.secauth", "totem.ip_version", "totem.rrp_mode", "totem.transport", "totem.cluster_name", "totem.netmtu",
		"totem.threads", "totem.version", "totem.nodeid", "totem.clear_node_high_bit", "config.reload_in_progress",
		"config.totemconfig_reload_in_progress", "nodelist.local_node_pos", "quorum.allow_downscale", "quorum.wait_for_all"}
)

func icmapReadOnly(key string) bool {
	for _, p := range roPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return slices.Contains(roKeys, key)
}

// MockClusterName is the totem.cluster_name of every mock cluster.
const MockClusterName = "mock"

// runtime.config.totem.* of a 1000 ms token with token_coefficient 0, as
// corosync 3.1.7 derives them (measured).
var runtimeTotem = []struct {
	key string
	v   cmapwire.Value
}{
	{"block_unlisted_ips", cmapwire.Uint32(1)}, {"cancel_token_hold_on_retransmit", cmapwire.Uint32(0)},
	{"consensus", cmapwire.Uint32(1200)}, {"downcheck", cmapwire.Uint32(1000)}, {"fail_recv_const", cmapwire.Uint32(2500)},
	{"heartbeat_failures_allowed", cmapwire.Uint32(0)}, {"hold", cmapwire.Uint32(180)},
	{"interface.0.knet_ping_interval", cmapwire.Uint32(250)}, {"interface.0.knet_ping_timeout", cmapwire.Uint32(500)},
	{"join", cmapwire.Uint32(50)}, {"knet_compression_level", cmapwire.Int32(0)},
	{"knet_compression_model", cmapwire.String("none")}, {"knet_compression_threshold", cmapwire.Uint32(0)},
	{"knet_mtu", cmapwire.Uint32(0)}, {"knet_pmtud_interval", cmapwire.Uint32(30)}, {"max_messages", cmapwire.Uint32(17)},
	{"max_network_delay", cmapwire.Uint32(50)}, {"merge", cmapwire.Uint32(200)}, {"miss_count_const", cmapwire.Uint32(5)},
	{"send_join", cmapwire.Uint32(0)}, {"seqno_unchanged_const", cmapwire.Uint32(30)}, {"token", cmapwire.Uint32(1000)},
	{"token_retransmit", cmapwire.Uint32(238)}, {"token_retransmits_before_loss_const", cmapwire.Uint32(4)},
	{"token_warning", cmapwire.Uint32(75)}, {"window_size", cmapwire.Uint32(50)},
}

// The services corosync 3.1.7 loads, in order, with the number of exec
// message types each counts in runtime.services.<name>.<n>.{rx,tx}.
var cmapServices = []struct {
	name, lib string
	msgs      int
}{
	{"cmap", "corosync_cmap", 1}, {"cfg", "corosync_cfg", 5}, {"cpg", "corosync_cpg", 7},
	{"quorum", "corosync_quorum", 0}, {"pload", "corosync_pload", 2}, {"votequorum", "corosync_votequorum", 4},
	{"mon", "corosync_mon", 0}, {"wd", "corosync_wd", 0},
}

// memberIP is runtime.members.<id>.ip as corosync prints it (trailing space included).
func memberIP(n *Node) string { return fmt.Sprintf("r(0) ip(%s) ", n.Addr()) }

// cmapBoot builds the map node n's daemon starts with: its configuration
// and the runtime keys of a daemon with no members yet.
func (n *Node) cmapBoot() *kvmap {
	c := n.c
	m := newKVMap()
	set := func(k string, v cmapwire.Value) { m.put(k, v) }
	for i, s := range cmapServices {
		set(fmt.Sprintf("internal_configuration.service.%d.name", i), cmapwire.String(s.lib))
		set(fmt.Sprintf("internal_configuration.service.%d.ver", i), cmapwire.Uint32(0))
		set("runtime.services."+s.name+".service_id", cmapwire.Uint16(uint16(i)))
		for j := range s.msgs {
			set(fmt.Sprintf("runtime.services.%s.%d.rx", s.name, j), cmapwire.Uint64(0))
			set(fmt.Sprintf("runtime.services.%s.%d.tx", s.name, j), cmapwire.Uint64(0))
		}
	}
	for i, id := range c.ids {
		other := c.nodes[id]
		set(fmt.Sprintf("nodelist.node.%d.name", i), cmapwire.String(fmt.Sprintf("node%d", id)))
		set(fmt.Sprintf("nodelist.node.%d.nodeid", i), cmapwire.Uint32(id))
		set(fmt.Sprintf("nodelist.node.%d.ring0_addr", i), cmapwire.String(other.Addr().String()))
		if id == n.id {
			set("nodelist.local_node_pos", cmapwire.Uint32(uint32(i)))
		}
	}
	set("totem.cluster_name", cmapwire.String(MockClusterName))
	set("totem.crypto_cipher", cmapwire.String("none"))
	set("totem.crypto_hash", cmapwire.String("none"))
	set("totem.interface.0.bindnetaddr", cmapwire.String(n.Addr().String()))
	set("totem.token", cmapwire.Uint32(1000))
	set("totem.token_coefficient", cmapwire.Uint32(0))
	set("totem.transport", cmapwire.String("knet"))
	set("totem.version", cmapwire.Uint32(2))
	for _, k := range runtimeTotem {
		set("runtime.config.totem."+k.key, k.v)
	}
	// The keys the release probe reads (internal/session/probe.go).
	switch {
	case !c.version.AtLeast(corosync.Version3_0):
		m.del("runtime.config.totem.knet_pmtud_interval")
		set("runtime.connections.active", cmapwire.Uint64(0))
		set("runtime.connections.closed", cmapwire.Uint64(0)) // its sibling, which cmap.Iter reads on 2.x
	case !c.version.AtLeast(corosync.Version3_1_6):
		m.del("runtime.config.totem.cancel_token_hold_on_retransmit")
	}
	set("runtime.blackbox.dump_flight_data", cmapwire.String("no"))
	set("runtime.blackbox.dump_state", cmapwire.String("no"))
	set("runtime.force_gather", cmapwire.String("no"))
	set("resources.watchdog_timeout", cmapwire.Uint32(6))
	for _, r := range []struct {
		name string
		cur  cmapwire.Value
	}{{"load_15min", cmapwire.Double(0)}, {"memory_used", cmapwire.Int32(0)}} {
		p := "resources.system." + r.name + "."
		set(p+"current", r.cur)
		set(p+"last_updated", cmapwire.Uint64(0))
		set(p+"poll_period", cmapwire.Uint64(3000))
		set(p+"state", cmapwire.String("stopped"))
	}
	if !c.free {
		set("quorum.provider", cmapwire.String("corosync_votequorum"))
		if c.vq.ExpectedVotes != 0 {
			set("quorum.expected_votes", cmapwire.Uint32(c.vq.ExpectedVotes))
		}
		ev := c.vq.ExpectedVotes
		if ev == 0 {
			ev = uint32(len(c.ids))
		}
		set("runtime.votequorum.ev_barrier", cmapwire.Uint32(ev))
		set("runtime.votequorum.this_node_id", cmapwire.Uint32(n.id))
		twoNode := uint8(0)
		if c.vq.TwoNode {
			twoNode = 1
			set("quorum.two_node", cmapwire.Uint8(1))
		}
		set("runtime.votequorum.two_node", cmapwire.Uint8(twoNode))
	}
	return m
}

// cmapMembership is the cluster model's hook: node n's membership changed
// (n.members is the new one). It applies what corosync's confchg does to
// the map (exec/main.c member_object_left/joined, then cmap's sync of
// config_version) and votequorum's lowest/highest node ids, notifying
// trackers. A node that joined itself has just started: its map is
// rebuilt. The caller holds the cluster mutex.
func (n *Node) cmapMembership(joined, left []uint32) {
	if n.cmap == nil || slices.Contains(joined, n.id) {
		n.cmap = &cmapNode{icmap: n.cmapBoot()}
	}
	for _, id := range left {
		n.cmapSet(fmt.Sprintf("runtime.members.%d.status", id), cmapwire.String("left"))
	}
	for _, id := range joined {
		p := fmt.Sprintf("runtime.members.%d.", id)
		if v, ok := n.cmap.icmap.get(p + "join_count"); ok {
			cnt, _ := v.Uint32()
			n.cmapSet(p+"join_count", cmapwire.Uint32(cnt+1))
		} else {
			n.cmapSet(p+"ip", cmapwire.String(memberIP(n.c.nodes[id])))
			n.cmapSet(p+"join_count", cmapwire.Uint32(1))
		}
		n.cmapSet(p+"status", cmapwire.String("joined"))
	}
	for _, id := range joined {
		n.cmapSet(fmt.Sprintf("runtime.members.%d.config_version", id), cmapwire.Uint64(0))
	}
	if n.c.free {
		return
	}
	// votequorum learns the joined nodes one by one (their nodeinfo
	// messages) and recomputes the lowest and highest node id whenever
	// the nodes it knows are quorate.
	known := diff(n.members, joined)
	steps := [][]uint32{slices.Clone(known)}
	for _, id := range joined {
		known = append(known, id)
		slices.Sort(known)
		steps = append(steps, slices.Clone(known))
	}
	if len(joined) > 0 {
		steps = steps[1:]
	}
	for _, members := range steps {
		if len(members) == 0 || !n.c.quorateWith(n.id, members) {
			continue
		}
		n.cmapSet("runtime.votequorum.lowest_node_id", cmapwire.Uint32(slices.Min(members)))
		n.cmapSet("runtime.votequorum.highest_node_id", cmapwire.Uint32(slices.Max(members)))
	}
}

// cmapSet stores v under key in n's icmap like icmap_set (no change, no
// event) and notifies the trackers.
func (n *Node) cmapSet(key string, v cmapwire.Value) {
	m := n.cmap.icmap
	old, had := m.get(key)
	if had && old.Type() == v.Type() && string(old.Bytes()) == string(v.Bytes()) {
		return
	}
	m.put(key, v)
	if had {
		n.cmapNotify(key, cmapwire.TrackModify, v, old)
	} else {
		n.cmapNotify(key, cmapwire.TrackAdd, v, cmapwire.Value{})
	}
}

func (n *Node) cmapDelete(key string) {
	m := n.cmap.icmap
	old, had := m.get(key)
	if !had {
		return
	}
	m.del(key)
	n.cmapNotify(key, cmapwire.TrackDelete, cmapwire.Value{}, old)
}

// cmapNotify queues the notification of one change for every icmap
// tracker it concerns, on every connection of the node.
func (n *Node) cmapNotify(key string, event cmapwire.TrackFlags, newV, oldV cmapwire.Value) {
	for cn := range n.conns {
		h, ok := cn.h.(*cmapConn)
		if !ok || h.stats {
			continue
		}
		for _, t := range h.sortedTracks() {
			if t.flags&event == 0 {
				continue
			}
			if t.flags&cmapwire.TrackPrefix != 0 && !strings.HasPrefix(key, t.key) || t.flags&cmapwire.TrackPrefix == 0 && key != t.key {
				continue
			}
			b, err := cmapwire.AppendEvent(nil, cmapwire.Notify{Cookie: t.cookie, Key: key, Event: event, New: newV, Old: oldV})
			if err != nil {
				panic(fmt.Sprintf("mock cmap: %v", err)) // stored keys and values always fit
			}
			cn.push(b)
		}
	}
}

// cmapStats builds node n's stats map as it reads now.
func (n *Node) cmapStats() *kvmap {
	m := newKVMap()
	u8, u32, u64 := cmapwire.Uint8, cmapwire.Uint32, cmapwire.Uint64
	m.put("stats.ipcs.global.active", u64(uint64(len(n.conns))))
	m.put("stats.ipcs.global.closed", u64(0))
	m.put("stats.pg.msg_queue_avail", u32(0))
	m.put("stats.pg.msg_reserved", u32(0))
	for _, k := range []string{"avg_backlog_calc", "avg_token_workload", "continuous_gather", "continuous_sendmsg_failures", "mtt_rx_token"} {
		m.put("stats.srp."+k, u32(0))
	}
	m.put("stats.srp.firewall_enabled_or_nic_failure", u8(0))
	for _, k := range []string{"commit_entered", "commit_token_lost", "consensus_timeouts", "gather_entered", "gather_token_lost",
		"mcast_retx", "mcast_rx", "mcast_tx", "memb_commit_token_rx", "memb_commit_token_tx", "memb_join_rx", "memb_join_tx",
		"memb_merge_detect_rx", "memb_merge_detect_tx", "operational_entered", "operational_token_lost", "orf_token_rx",
		"orf_token_tx", "recovery_entered", "recovery_token_lost", "rx_msg_dropped", "time_since_token_last_received",
		"token_hold_cancel_rx", "token_hold_cancel_tx"} {
		m.put("stats.srp."+k, u64(0))
	}
	for _, dir := range []string{"rx", "tx"} {
		for _, k := range []string{"compress_time_ave", "compress_time_max", "compressed_original_bytes", "compressed_packets",
			"compressed_size_bytes", "crypt_packets", "crypt_time_ave", "crypt_time_max"} {
			m.put("stats.knet.handle."+dir+"_"+k, u64(0))
		}
		for _, k := range []string{"compress_time_min", "crypt_time_min"} {
			m.put("stats.knet.handle."+dir+"_"+k, u64(^uint64(0)))
		}
	}
	m.put("stats.knet.handle.tx_crypt_byte_overhead", u64(0))
	m.put("stats.knet.handle.tx_uncompressed_packets", u64(0))
	for _, id := range n.c.ids {
		p := fmt.Sprintf("stats.knet.node%d.link0.", id)
		up, mtu := uint8(0), uint32(1446)
		if id == n.id {
			mtu = 65535
		}
		if n.reachable(id) {
			up = 1
		}
		m.put(p+"connected", u8(up))
		m.put(p+"enabled", u8(1))
		m.put(p+"mtu", u32(mtu))
		m.put(p+"latency_min", u32(^uint32(0)))
		for _, k := range []string{"down_count", "latency_ave", "latency_max", "latency_samples", "tx_data_errors", "tx_data_retries",
			"tx_ping_errors", "tx_ping_retries", "tx_pmtu_errors", "tx_pmtu_retries", "tx_pong_errors", "tx_pong_retries", "up_count"} {
			m.put(p+k, u32(0))
		}
		for _, k := range []string{"rx_data_bytes", "rx_data_packets", "rx_ping_bytes", "rx_ping_packets", "rx_pmtu_bytes",
			"rx_pmtu_packets", "rx_pong_bytes", "rx_pong_packets", "rx_total_bytes", "rx_total_packets", "rx_total_retries",
			"tx_data_bytes", "tx_data_packets", "tx_ping_bytes", "tx_ping_packets", "tx_pmtu_bytes", "tx_pmtu_packets",
			"tx_pong_bytes", "tx_pong_packets", "tx_total_bytes", "tx_total_errors", "tx_total_packets"} {
			m.put(p+k, u64(0))
		}
	}
	return m
}

// quorateWith reports whether the votes of members reach node id's current
// quorum threshold: votequorum's view while it learns joined nodes one by
// one, for the lowest and highest node ids it keeps in cmap.
func (c *Cluster) quorateWith(id uint32, members []uint32) bool {
	s, err := c.sim.State(id)
	if err != nil || s.Quorum == 0 {
		return false
	}
	votes := uint32(0)
	for _, nd := range s.Nodes {
		if slices.Contains(members, nd.ID) {
			votes += nd.Votes
		}
	}
	return votes >= s.Quorum
}
