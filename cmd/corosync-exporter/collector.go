package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/votequorum"
)

// Metric names. The ha_cluster_* ones are ClusterLabs ha_cluster_exporter's
// corosync metrics, with the same names, labels and meaning (made right on
// knet, see README); the corosync_* ones are what exec-and-parse cannot give.
var (
	descQuorate     = compat("quorate", "Whether or not the cluster is quorate", nil)
	descRings       = compat("rings", "The status of each Corosync ring; 1 means healthy, 0 means faulty.", []string{"ring_id", "node_id", "number", "address"})
	descRingErrors  = compat("ring_errors", "The total number of faulty corosync rings", nil)
	descMemberVotes = compat("member_votes", "How many votes each member node has contributed with to the current quorum", []string{"node_id", "node", "local"})
	descQuorumVotes = compat("quorum_votes", "Cluster quorum votes; one line per type", []string{"type"})
	descScrapeDur   = prometheus.NewDesc("ha_cluster_scrape_duration_seconds", "Duration of a collector scrape.", nil, prometheus.Labels{"collector": "corosync"})
	descScrapeOK    = prometheus.NewDesc("ha_cluster_scrape_success", "Whether a collector succeeded.", nil, prometheus.Labels{"collector": "corosync"})

	descUp             = own("up", "1 while corosync answers on every service the exporter uses, 0 otherwise (the other corosync metrics are then withdrawn).", nil)
	descPartOK         = own("scrape_part_success", "Whether reading this part of corosync's state succeeded in this scrape.", []string{"part"})
	descQuorumChanges  = own("quorum_changes_total", "Changes of this node's quorate state seen since the exporter started (kept from quorum notifications).", nil)
	descMemberChanges  = own("membership_changes_total", "Membership (ring) changes seen since the exporter started (kept from quorum notifications).", nil)
	descLastChange     = own("last_change_timestamp_seconds", "When the last quorum or membership change was seen, as a Unix time; 0 before the first.", nil)
	descNodeVotes      = own("node_votes", "Votes of each node the daemon knows, dead ones included.", []string{"node_id", "node"})
	descNodeState      = own("node_state", "State of each node the daemon knows: 1 for the state it is in.", []string{"node_id", "node", "state"})
	descNodeExpected   = own("node_expected_votes", "Expected votes each node holds.", []string{"node_id", "node"})
	descQdevice        = own("qdevice", "The quorum device as this node sees it: registered, alive, cast_vote, master_wins (1 or 0).", []string{"name", "property"})
	descQdeviceVotes   = own("qdevice_votes", "Votes of the quorum device.", []string{"name"})
	descNodeReachable  = own("node_reachable", "Whether knet reaches the node from this node (cfg node status).", []string{"node_id", "node"})
	descLinkConnected  = own("link_connected", "Whether knet link number link to node_id is connected, as cfg node status reports it.", []string{"node_id", "node", "link"})
	descLinkEnabled    = own("link_enabled", "Whether knet link number link to node_id is enabled.", []string{"node_id", "node", "link"})
	descLinkMTU        = own("link_mtu_bytes", "The path MTU knet found for the link.", []string{"node_id", "node", "link"})
	descFlag           = own("quorum_flag", "votequorum's flags for this node (1 set, 0 not): two_node, quorate, wait_for_all, last_man_standing, auto_tie_breaker, allow_downscale.", []string{"flag"})
	descRingSeq        = own("ring_sequence", "The sequence number of the current ring (membership).", []string{"ring_id"})
	descQuorumRequired = own("quorum_votes_required", "Votes needed for quorum.", nil)

	linkLabels     = []string{"node_id", "node", "link"}
	descLatencyAvg = own("knet_link_latency_average_seconds", "knet's average latency of the link (stats.knet.nodeN.linkL.latency_ave).", linkLabels)
	descLatencyMin = own("knet_link_latency_min_seconds", "knet's minimum latency of the link (latency_min).", linkLabels)
	descLatencyMax = own("knet_link_latency_max_seconds", "knet's maximum latency of the link (latency_max).", linkLabels)
	descLinkUps    = own("knet_link_up_total", "Times the link came up (up_count).", linkLabels)
	descLinkDowns  = own("knet_link_down_total", "Times the link went down (down_count).", linkLabels)
	descRxPackets  = own("knet_link_rx_data_packets_total", "Data packets received on the link.", linkLabels)
	descTxPackets  = own("knet_link_tx_data_packets_total", "Data packets sent on the link.", linkLabels)
	descRxBytes    = own("knet_link_rx_data_bytes_total", "Data bytes received on the link.", linkLabels)
	descTxBytes    = own("knet_link_tx_data_bytes_total", "Data bytes sent on the link.", linkLabels)
	descTxErrors   = own("knet_link_tx_errors_total", "Send errors on the link (tx_total_errors).", linkLabels)
	descIPCActive  = own("ipc_connections", "IPC connections corosync holds now (stats.ipcs.global.active).", nil)
	descIPCClosed  = own("ipc_connections_closed_total", "IPC connections corosync has closed (stats.ipcs.global.closed).", nil)
	knetStats      = []struct {
		key   string
		desc  *prometheus.Desc
		kind  prometheus.ValueType
		scale float64
	}{
		{"latency_ave", descLatencyAvg, prometheus.GaugeValue, 1e-6},
		{"latency_min", descLatencyMin, prometheus.GaugeValue, 1e-6},
		{"latency_max", descLatencyMax, prometheus.GaugeValue, 1e-6},
		{"up_count", descLinkUps, prometheus.CounterValue, 1},
		{"down_count", descLinkDowns, prometheus.CounterValue, 1},
		{"rx_data_packets", descRxPackets, prometheus.CounterValue, 1},
		{"tx_data_packets", descTxPackets, prometheus.CounterValue, 1},
		{"rx_data_bytes", descRxBytes, prometheus.CounterValue, 1},
		{"tx_data_bytes", descTxBytes, prometheus.CounterValue, 1},
		{"tx_total_errors", descTxErrors, prometheus.CounterValue, 1},
	}
)

func compat(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc("ha_cluster_corosync_"+name, help, labels, nil)
}

func own(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc("corosync_"+name, help, labels, nil)
}

// Collector reads corosync's state for Prometheus. Quorum state comes from
// the quorum client's event cache (changes are counted as they happen);
// votes and link status are cheap IPC reads done on each scrape, bounded by
// timeout.
type Collector struct {
	timeout time.Duration
	log     *slog.Logger

	mu        sync.Mutex
	q         *quorum.Client
	vq        *votequorum.Client
	cf        *cfg.Client
	stats     *cmap.Client
	names     *names
	qChanges  uint64
	mChanges  uint64
	lastEvent time.Time
	lastQ     *bool
	lastRing  corosync.RingID

	// statsDialing is set while a late dial of the stats map is under way
	// (see Collect); lateDials waits for it at Close.
	statsDialing bool
	statsTried   time.Time
	closing      bool // set by Close: no late dial starts
	lateDials    sync.WaitGroup
	ctx          context.Context
	dialer       transport.Dialer

	cancel context.CancelFunc
	done   chan struct{}
}

// NewCollector starts connecting to corosync through dialer (nil: the local
// daemon) in the background; it keeps retrying until Close.
func NewCollector(dialer transport.Dialer, timeout time.Duration, log *slog.Logger) *Collector {
	if dialer == nil {
		dialer = transport.NewDialer(transport.Config{})
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Collector{timeout: timeout, log: log, ctx: ctx, dialer: dialer, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx, dialer)
	return c
}

// Close disconnects and waits for the background goroutine.
func (c *Collector) Close() {
	c.cancel()
	<-c.done
	// A late dial starts (lateDials.Add) under mu only while !closing, so
	// none starts after this and Wait may begin.
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.lateDials.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.q == nil {
		return // never connected: run closed what it had
	}
	c.q.Close()
	c.vq.Close()
	c.cf.Close()
	if c.stats != nil {
		c.stats.Close()
	}
	c.names.c.Close()
}

// run connects every client (each waits for the daemon and reconnects by
// itself afterwards), then keeps the change counters from quorum events.
func (c *Collector) run(ctx context.Context, d transport.Dialer) {
	defer close(c.done)
	backoff := corosync.DefaultBackoff
	q, err := quorum.Dial(ctx, client.WithDialer(d), client.WithWaitForDaemon())
	if err != nil {
		return // ctx ended
	}
	vq, err := dialRetry(ctx, func() (*votequorum.Client, error) {
		return votequorum.Dial(ctx, client.WithDialer(d), client.WithWaitForDaemon())
	}, backoff)
	if err != nil {
		q.Close()
		return
	}
	cf, err := dialRetry(ctx, func() (*cfg.Client, error) {
		return cfg.Dial(ctx, client.WithDialer(d), client.WithWaitForDaemon())
	}, backoff)
	if err != nil {
		q.Close()
		vq.Close()
		return
	}
	cm, err := dialRetry(ctx, func() (*cmap.Client, error) {
		return cmap.Dial(ctx, client.WithDialer(d), client.WithWaitForDaemon())
	}, backoff)
	if err != nil {
		q.Close()
		vq.Close()
		cf.Close()
		return
	}
	// The stats map needs corosync 3.0: on 2.x the dial is refused
	// (ErrNotSupported, nothing sent) and the statistics the exporter
	// gives are read from the main map instead (scrape.ipc).
	st, err := dialRetry(ctx, func() (*cmap.Client, error) {
		return cmap.Dial(ctx, client.WithDialer(d), client.WithWaitForDaemon(), cmap.WithMap(cmap.MapStats))
	}, backoff)
	if errors.Is(err, corosync.ErrNotSupported) {
		c.log.Debug("corosync has no stats map", "daemon", cm.DaemonVersion())
		st, err = nil, nil
	}
	if err != nil {
		q.Close()
		vq.Close()
		cf.Close()
		cm.Close()
		return
	}
	nm := &names{c: cm}
	sub, err := q.Subscribe(ctx, quorum.Queue(1024))
	c.mu.Lock()
	c.q, c.vq, c.cf, c.stats, c.names = q, vq, cf, st, nm
	c.mu.Unlock()
	if err != nil {
		return
	}
	defer sub.Close()
	watched := make(chan struct{})
	go func() { defer close(watched); nm.watch(ctx) }()
	defer func() { <-watched }()
	sub.Run(ctx, func(ev quorum.Event) error {
		c.observe(ev)
		return nil
	})
}

// dialRetry dials until it succeeds or ctx ends (for errors WaitForDaemon
// does not retry, such as access denied, which may be fixed at runtime).
// It gives up at once on corosync.ErrNotSupported: the daemon's release
// does not offer what is dialed, and asking again will not change that.
func dialRetry[T any](ctx context.Context, dial func() (T, error), b corosync.Backoff) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := dial()
		if err == nil || ctx.Err() != nil || errors.Is(err, corosync.ErrNotSupported) {
			return v, err
		}
		t := time.NewTimer(b.Delay(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err()
		}
	}
}

// observe counts quorate flips and ring changes, from notifications and
// from the fresh snapshot after a reconnect (a restarted daemon forms a new
// ring). The fail-safe state of an outage is not a change of the cluster.
func (c *Collector) observe(ev quorum.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev.Kind {
	case quorum.EventQuorum, quorum.EventNodelist, quorum.EventSnapshot:
	default:
		return
	}
	if c.lastQ == nil {
		q := ev.Quorate
		c.lastQ, c.lastRing = &q, ev.Ring
		return
	}
	changed := false
	if *c.lastQ != ev.Quorate {
		c.qChanges++
		changed = true
	}
	ring := ev.Ring
	if ev.Kind == quorum.EventNodelist && ev.Nodelist != nil {
		ring = ev.Nodelist.Ring
	}
	if ring != c.lastRing && ring != (corosync.RingID{}) {
		c.mChanges++
		c.lastRing = ring
		changed = true
	}
	q := ev.Quorate
	c.lastQ = &q
	if changed {
		c.lastEvent = time.Now()
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQuorate, descRings, descRingErrors, descMemberVotes, descQuorumVotes,
		descScrapeDur, descScrapeOK, descUp, descPartOK, descQuorumChanges, descMemberChanges, descLastChange,
		descNodeVotes, descNodeState, descNodeExpected, descQdevice, descQdeviceVotes, descNodeReachable,
		descLinkConnected, descLinkEnabled, descLinkMTU, descFlag, descRingSeq, descQuorumRequired,
		descIPCActive, descIPCClosed} {
		ch <- d
	}
	for _, k := range knetStats {
		ch <- k.desc
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collect implements prometheus.Collector. It never fails as a whole: each
// part that cannot be read is reported by corosync_scrape_part_success and
// its metrics are left out; while corosync is unreachable only corosync_up
// (0) and the scrape metrics are sent.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	c.mu.Lock()
	q, vq, cf, st, nm := c.q, c.vq, c.cf, c.stats, c.names
	qChanges, mChanges, last := c.qChanges, c.mChanges, c.lastEvent
	c.mu.Unlock()

	up := q != nil && q.Latest().Kind != quorum.EventDisconnected &&
		vq.Latest().Kind != votequorum.EventDisconnected && cf.Latest().Connected
	ch <- gauge(descUp, b2f(up))
	ok := up
	if up {
		ver := cf.DaemonVersion()
		v2 := olderThan3(ver)
		if st == nil && !v2 {
			c.dialStatsLate()
		}
		if v2 {
			st = nil // a 3.x daemon's stats client, now facing 2.x
		}
		s := &scrape{ctx: ctx, ch: ch, q: q, vq: vq, cf: cf, stats: st, nm: nm, v2: v2}
		ok = s.collect()
		ch <- prometheus.MustNewConstMetric(descQuorumChanges, prometheus.CounterValue, float64(qChanges))
		ch <- prometheus.MustNewConstMetric(descMemberChanges, prometheus.CounterValue, float64(mChanges))
		lastTS := 0.0
		if !last.IsZero() {
			lastTS = float64(last.UnixNano()) / 1e9
		}
		ch <- gauge(descLastChange, lastTS)
	}
	ch <- gauge(descScrapeOK, b2f(ok))
	ch <- gauge(descScrapeDur, time.Since(start).Seconds())
}

// dialStatsLate dials the stats map in the background when the daemon
// offers it but the collector has no client for it (it first met a
// corosync 2.x, which has none), at most once a minute.
func (c *Collector) dialStatsLate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.statsDialing || c.stats != nil || c.ctx.Err() != nil || time.Since(c.statsTried) < time.Minute {
		return
	}
	c.statsDialing, c.statsTried = true, time.Now()
	c.lateDials.Add(1)
	go func() {
		defer c.lateDials.Done()
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		st, err := cmap.Dial(ctx, client.WithDialer(c.dialer), cmap.WithMap(cmap.MapStats))
		cancel()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.statsDialing = false
		if err != nil {
			c.log.Debug("stats map", "err", err)
			return
		}
		if c.ctx.Err() != nil {
			st.Close()
			return
		}
		c.stats = st
	}()
}

// olderThan3 reports whether v is a corosync 2.x (no knet, no stats map,
// the 2.x tools' output); an unknown version is taken for 3.x.
func olderThan3(v corosync.Version) bool {
	return v != (corosync.Version{}) && !v.AtLeast(corosync.Version3_0)
}

// ringLabel renders a ring id as that release's corosync-quorumtool prints
// it, which is ha_cluster_exporter's ring_id label: "1/12" on 2.x (the
// representative node as a signed int, then the sequence, in decimal),
// "1.c" on 3.x (both in hex).
func ringLabel(v2 bool, rep uint32, seq uint64) string {
	if v2 {
		return fmt.Sprintf("%d/%d", int32(rep), seq)
	}
	return fmt.Sprintf("%x.%x", rep, seq)
}

// scrape is one Collect's reads.
type scrape struct {
	ctx   context.Context
	ch    chan<- prometheus.Metric
	q     *quorum.Client
	vq    *votequorum.Client
	cf    *cfg.Client
	stats *cmap.Client // nil on corosync 2.x
	nm    *names
	v2    bool // corosync 2.x
	nodes map[uint32]nodelistNode
	local uint32
	links map[uint32][]int // enabled links of each node, from cfg
}

// name is the node's name as corosync-quorumtool shows it (2.x: its
// ring0_addr, 3.x: its name), or its id when the nodelist has none.
func (s *scrape) name(id uint32) string {
	if n := s.nodes[id].display(s.v2); n != "" {
		return n
	}
	return strconv.FormatUint(uint64(id), 10)
}

func (s *scrape) part(name string, fn func() error) bool {
	err := fn()
	s.ch <- gauge(descPartOK, b2f(err == nil), name)
	return err == nil
}

func (s *scrape) collect() bool {
	qs := s.q.Latest()
	rep := qs.Ring.NodeID
	if rep == 0 {
		// The quorum service's V0 model (corosync 2.x and 3.0) carries
		// no representative node; quorumtool takes it from votequorum.
		rep = s.vq.Latest().Ring.NodeID
	}
	ringID := ringLabel(s.v2, rep, qs.Ring.Seq)
	s.ch <- gauge(descQuorate, b2f(qs.Quorate))
	s.ch <- gauge(descRingSeq, float64(qs.Ring.Seq), ringID)
	ok := s.part("cmap", func() error {
		var err error
		s.nodes, err = s.nm.get(s.ctx)
		return err
	})
	ok = s.part("votequorum", func() error { return s.votes(qs) }) && ok
	ok = s.part("cfg", func() error { return s.linkStatus(ringID) }) && ok
	switch {
	case s.stats != nil:
		ok = s.part("stats", s.knet) && ok
	case s.v2:
		// 2.x keeps its IPC counters in the main map.
		ok = s.part("stats", func() error { return s.ipc(s.nm.c, "runtime.connections.") }) && ok
	}
	return ok
}

// votes sends quorum_votes, member_votes and the per-node and qdevice
// metrics, from getinfo of this node and of every node the daemon knows.
func (s *scrape) votes(qs quorum.Event) error {
	me, err := s.vq.Info(s.ctx, 0)
	if err != nil {
		return err
	}
	s.local = me.NodeID
	s.ch <- gauge(descQuorumVotes, float64(me.NodeExpectedVotes), "expected_votes")
	s.ch <- gauge(descQuorumVotes, float64(me.HighestExpected), "highest_expected")
	s.ch <- gauge(descQuorumVotes, float64(me.TotalVotes), "total_votes")
	s.ch <- gauge(descQuorumVotes, float64(me.Quorum), "quorum")
	s.ch <- gauge(descQuorumRequired, float64(me.Quorum))
	for _, f := range []struct {
		name string
		bit  votequorum.Flags
	}{{"two_node", votequorum.FlagTwoNode}, {"quorate", votequorum.FlagQuorate}, {"wait_for_all", votequorum.FlagWaitForAll},
		{"last_man_standing", votequorum.FlagLastManStanding}, {"auto_tie_breaker", votequorum.FlagAutoTieBreaker},
		{"allow_downscale", votequorum.FlagAllowDownscale}} {
		s.ch <- gauge(descFlag, b2f(me.Flags.Has(f.bit)), f.name)
	}
	infos := map[uint32]votequorum.Info{}
	for _, n := range s.vq.Latest().Nodes {
		if n.NodeID == 0 {
			continue // the quorum device
		}
		if _, seen := infos[n.NodeID]; seen {
			continue
		}
		info, err := s.vq.Info(s.ctx, n.NodeID)
		if errors.Is(err, votequorumNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		infos[n.NodeID] = info
		id, name := strconv.FormatUint(uint64(n.NodeID), 10), s.name(n.NodeID)
		s.ch <- gauge(descNodeVotes, float64(info.NodeVotes), id, name)
		s.ch <- gauge(descNodeExpected, float64(info.NodeExpectedVotes), id, name)
		s.ch <- gauge(descNodeState, 1, id, name, info.State.String())
	}
	// member_votes: the quorum view list, as corosync-quorumtool -p lists it.
	for _, m := range qs.Members {
		info, ok := infos[m]
		if !ok {
			if info, err = s.vq.Info(s.ctx, m); err != nil {
				return err
			}
			infos[m] = info
		}
		s.ch <- gauge(descMemberVotes, float64(info.NodeVotes), strconv.FormatUint(uint64(m), 10), s.name(m), strconv.FormatBool(m == me.NodeID))
	}
	if me.QdeviceName != "" || me.Flags.Has(votequorum.FlagQdevice) {
		votes := 0.0
		if me.Flags.Has(votequorum.FlagQdeviceCastVote) {
			votes = float64(me.QdeviceVotes)
		}
		s.ch <- gauge(descMemberVotes, votes, "0", "Qdevice", "false")
		s.ch <- gauge(descQdeviceVotes, float64(me.QdeviceVotes), me.QdeviceName)
		for _, p := range []struct {
			name string
			bit  votequorum.Flags
		}{{"registered", votequorum.FlagQdevice}, {"alive", votequorum.FlagQdeviceAlive},
			{"cast_vote", votequorum.FlagQdeviceCastVote}, {"master_wins", votequorum.FlagQdeviceMasterWins}} {
			s.ch <- gauge(descQdevice, b2f(me.Flags.Has(p.bit)), me.QdeviceName, p.name)
		}
	}
	return nil
}

// links sends the per-node, per-link status of every node the daemon knows,
// and the compatible rings / ring_errors built from it: one ring row per
// enabled link of this node and node, 1 when connected.
func (s *scrape) linkStatus(ringID string) error {
	local, err := s.cf.LocalNodeID(s.ctx)
	if err != nil {
		return err
	}
	self, err := s.cf.NodeStatus(s.ctx, local)
	if errors.Is(err, corosync.ErrNotSupported) {
		return s.ringStatus(local, ringID) // corosync 2.x and 3.0
	}
	if err != nil {
		return err
	}
	ids := []uint32{local}
	seen := map[uint32]bool{local: true}
	for _, n := range s.vq.Latest().Nodes {
		if n.NodeID != 0 && !seen[n.NodeID] {
			seen[n.NodeID] = true
			ids = append(ids, n.NodeID)
		}
	}
	for id := range s.nodes {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	statuses := map[uint32]cfg.NodeStatus{local: self}
	known := []uint32{local}
	for _, id := range ids[1:] {
		st, err := s.cf.NodeStatus(s.ctx, id)
		if errors.Is(err, cfgUnknownNode) {
			continue
		}
		if err != nil {
			return err
		}
		statuses[id] = st
		known = append(known, id)
	}
	// The cluster's links are those enabled towards any node: the local
	// node's own status has only the link knet loops back on (link 0),
	// whatever links the cluster has (measured on 3.1.7 with two links).
	var clusterLinks []int
	for l := range self.Links {
		for _, st := range statuses {
			if l < len(st.Links) && st.Links[l].Enabled {
				clusterLinks = append(clusterLinks, l)
				break
			}
		}
	}
	errs := 0
	s.links = map[uint32][]int{}
	for _, id := range known {
		st := statuses[id]
		nid, name := strconv.FormatUint(uint64(id), 10), s.name(id)
		s.ch <- gauge(descNodeReachable, b2f(st.Reachable || id == local), nid, name)
		for _, l := range clusterLinks {
			if l >= len(st.Links) {
				continue
			}
			ls := st.Links[l]
			if id == local && !ls.Enabled {
				// A link of the cluster the local status does not list: up
				// to itself ("localhost" in corosync-cfgtool -s), at the
				// local address the other nodes' status gives it.
				ls.Enabled, ls.Connected = true, true
				for _, o := range statuses {
					if l < len(o.Links) && o.Links[l].Enabled && o.Links[l].Src != "" {
						ls.Src = o.Links[l].Src
						break
					}
				}
			}
			link := strconv.Itoa(l)
			s.links[id] = append(s.links[id], l)
			s.ch <- gauge(descLinkEnabled, b2f(ls.Enabled), nid, name, link)
			s.ch <- gauge(descLinkConnected, b2f(ls.Connected), nid, name, link)
			if ls.MTU != 0 || id != local {
				s.ch <- gauge(descLinkMTU, float64(ls.MTU), nid, name, link)
			}
			healthy := ls.Connected || id == local
			if !healthy {
				errs++
			}
			addr := ls.Dst
			if id == local {
				addr = ls.Src
			}
			s.ch <- gauge(descRings, b2f(healthy), ringID, nid, link, addr)
		}
	}
	s.ch <- gauge(descRingErrors, float64(errs))
	return nil
}

// ringStatus is linkStatus for a daemon without node status (corosync 2.x
// and 3.0), from the old ring status that every release answers:
//
//   - a totem ring of udp or udpu (2.x): one rings series per ring of the
//     local node, as ha_cluster_exporter reads `corosync-cfgtool -s` of
//     2.x: node_id the local node, number the ring's position in the list
//     (cfgtool's RING ID), address the ring's local address (cfgtool's id),
//     0 when the status says FAULTY;
//   - a knet link (3.0): one series per link and node, from the link's
//     status character for each host (hosts in node id order of the
//     nodelist, as corosync-cfgtool reads them), as on 3.1, and
//     link_enabled and link_connected; 3.0 reports no MTU nor reachability.
func (s *scrape) ringStatus(local uint32, ringID string) error {
	rings, err := s.cf.RingStatus(s.ctx)
	if err != nil {
		return err
	}
	s.links, err = ringMetrics(s.ch, rings, local, ringID, s.nodes, s.name)
	return err
}

// ringMetrics sends what ringStatus reads from rings; it returns the links
// of each node (knet) for the statistics.
func ringMetrics(ch chan<- prometheus.Metric, rings []cfg.RingInterface, local uint32, ringID string,
	nodes map[uint32]nodelistNode, name func(uint32) string) (map[uint32][]int, error) {
	ids := slices.Sorted(maps.Keys(nodes))
	errs := 0
	links := map[uint32][]int{}
	for i, r := range rings {
		link, addr, knet := knetLink(r)
		if !knet {
			healthy := !strings.Contains(r.Status, "FAULTY")
			if !healthy {
				errs++
			}
			ch <- gauge(descRings, b2f(healthy), ringID, strconv.FormatUint(uint64(local), 10), strconv.Itoa(i), r.Name)
			continue
		}
		if len(ids) < len(r.Status) {
			return nil, fmt.Errorf("link %d: status of %d hosts, %d nodes in the nodelist", link, len(r.Status), len(ids))
		}
		l := strconv.Itoa(link)
		for p := 0; p < len(r.Status); p++ {
			id, st := ids[p], r.Status[p]
			nid, nm := strconv.FormatUint(uint64(id), 10), name(id)
			healthy, dst := false, nodes[id].addrs[link]
			switch {
			case st == 'n': // the local node
				healthy, dst = true, addr
				ch <- gauge(descLinkEnabled, 1, nid, nm, l)
				ch <- gauge(descLinkConnected, 1, nid, nm, l)
				links[id] = append(links[id], link)
			case st >= '0' && st <= '9': // enabled | connected<<1 | dynconnected<<2
				bits := st - '0'
				healthy = bits&2 != 0
				ch <- gauge(descLinkEnabled, b2f(bits&1 != 0), nid, nm, l)
				ch <- gauge(descLinkConnected, b2f(healthy), nid, nm, l)
				links[id] = append(links[id], link)
			case st == 'd': // that host has no such link
				continue
			}
			if !healthy {
				errs++
			}
			ch <- gauge(descRings, b2f(healthy), ringID, nid, l, dst)
		}
	}
	ch <- gauge(descRingErrors, float64(errs))
	return links, nil
}

// knetLink parses a knet entry of RingStatus, named "<link> <local
// address>"; a udp or udpu ring is named by its address alone.
func knetLink(r cfg.RingInterface) (link int, addr string, ok bool) {
	num, addr, ok := strings.Cut(r.Name, " ")
	if !ok {
		return 0, "", false
	}
	link, err := strconv.Atoi(num)
	if err != nil || link < 0 {
		return 0, "", false
	}
	return link, addr, true
}

// knet sends the selected knet link statistics of every node's links, and
// the IPC connection counts, from the stats map: one GET per value.
func (s *scrape) knet() error {
	for id, links := range s.links {
		if id == s.local {
			continue // knet keeps no statistics of the loopback link
		}
		nid, name := strconv.FormatUint(uint64(id), 10), s.name(id)
		for _, l := range links {
			link := strconv.Itoa(l)
			for _, k := range knetStats {
				v, err := s.stats.Get(s.ctx, knetKey(id, l, k.key))
				if errors.Is(err, corosync.ErrNotExist) {
					continue
				}
				if err != nil {
					return err
				}
				if x, ok := number(v); ok {
					s.ch <- prometheus.MustNewConstMetric(k.desc, k.kind, x*k.scale, nid, name, link)
				}
			}
		}
	}
	return s.ipc(s.stats, "stats.ipcs.global.")
}

// ipc sends the IPC connection counts, the keys active and closed under
// prefix: stats.ipcs.global. in the stats map (3.x), runtime.connections.
// in the main map (2.x). A missing key is left out.
func (s *scrape) ipc(c *cmap.Client, prefix string) error {
	for _, k := range []struct {
		key  string
		desc *prometheus.Desc
		kind prometheus.ValueType
	}{{"active", descIPCActive, prometheus.GaugeValue}, {"closed", descIPCClosed, prometheus.CounterValue}} {
		v, err := c.Get(s.ctx, prefix+k.key)
		if errors.Is(err, corosync.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if x, ok := number(v); ok {
			s.ch <- prometheus.MustNewConstMetric(k.desc, k.kind, x)
		}
	}
	return nil
}
