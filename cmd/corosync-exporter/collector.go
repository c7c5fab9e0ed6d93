package main

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/status"
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
	descLastChange     = own("last_change_timestamp_seconds", "When the last quorum or membership change was seen, as a Unix time; absent before the first.", nil)
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

	// knetStats are the knet link statistics exported, each with its
	// value in a status.LinkStats: durations in seconds, computed from
	// integer nanoseconds (one division, so the float is the nearest to the
	// decimal value knet's microseconds make).
	knetStats = []struct {
		desc  *prometheus.Desc
		kind  prometheus.ValueType
		value func(status.LinkStats) float64
	}{
		{descLatencyAvg, prometheus.GaugeValue, func(l status.LinkStats) float64 { return seconds(l.LatencyAvg) }},
		{descLatencyMin, prometheus.GaugeValue, func(l status.LinkStats) float64 { return seconds(l.LatencyMin) }},
		{descLatencyMax, prometheus.GaugeValue, func(l status.LinkStats) float64 { return seconds(l.LatencyMax) }},
		{descLinkUps, prometheus.CounterValue, func(l status.LinkStats) float64 { return float64(l.UpCount) }},
		{descLinkDowns, prometheus.CounterValue, func(l status.LinkStats) float64 { return float64(l.DownCount) }},
		{descRxPackets, prometheus.CounterValue, func(l status.LinkStats) float64 { return float64(l.RxDataPackets) }},
		{descTxPackets, prometheus.CounterValue, func(l status.LinkStats) float64 { return float64(l.TxDataPackets) }},
		{descRxBytes, prometheus.CounterValue, func(l status.LinkStats) float64 { return float64(l.RxDataBytes) }},
		{descTxBytes, prometheus.CounterValue, func(l status.LinkStats) float64 { return float64(l.TxDataBytes) }},
		{descTxErrors, prometheus.CounterValue, func(l status.LinkStats) float64 { return float64(l.TxErrors) }},
	}
)

func compat(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc("ha_cluster_corosync_"+name, help, labels, nil)
}

func own(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc("corosync_"+name, help, labels, nil)
}

// seconds renders d in seconds as the float nearest to its decimal value:
// d is an exact integer of nanoseconds and one division rounds once
// (d.Seconds() adds two rounded parts, and a product with 1e-6 rounds the
// inexact 1e-6 first: 402µs came out as 0.00040199999999999996).
func seconds(d time.Duration) float64 { return float64(d) / 1e9 }

// Collector reads corosync's state for Prometheus, through one
// status.Client: quorum state and the change counters come from corosync's
// notifications; votes, link status and statistics are cheap IPC reads done
// on each scrape, bounded by timeout.
type Collector struct {
	timeout time.Duration
	log     *slog.Logger

	mu sync.Mutex
	st *status.Client

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
	c := &Collector{timeout: timeout, log: log, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx, dialer)
	return c
}

// Close disconnects and waits for the background goroutine.
func (c *Collector) Close() {
	c.cancel()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st != nil {
		c.st.Close()
	}
}

// run dials the status client: it waits for the daemon, and retries with
// backoff errors waiting does not cover (such as access denied, which may
// be fixed at runtime). Once dialed, each service reconnects by itself and
// the status client dials again the ones that refused.
func (c *Collector) run(ctx context.Context, d transport.Dialer) {
	defer close(c.done)
	for attempt := 0; ; attempt++ {
		st, err := status.Dial(ctx, client.WithDialer(d), client.WithWaitForDaemon(), status.WithStats())
		if err == nil {
			c.mu.Lock()
			c.st = st
			c.mu.Unlock()
			return
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Debug("corosync", "err", err)
		t := time.NewTimer(corosync.DefaultBackoff.Delay(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
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
	st := c.st
	c.mu.Unlock()

	var s status.Snapshot
	up := false
	if st != nil {
		s, _ = st.Snapshot(ctx)
		up = s.Connected(status.PartQuorum) && s.Connected(status.PartVotequorum) && s.Connected(status.PartCfg)
	}
	ch <- gauge(descUp, b2f(up))
	ok := up
	if up {
		ok = collect(ch, s)
		ch <- prometheus.MustNewConstMetric(descQuorumChanges, prometheus.CounterValue, float64(s.Changes.Quorum))
		ch <- prometheus.MustNewConstMetric(descMemberChanges, prometheus.CounterValue, float64(s.Changes.Membership))
		if last := s.Changes.Last; !last.IsZero() {
			ch <- gauge(descLastChange, float64(last.UnixNano())/1e9)
		}
	}
	ch <- gauge(descScrapeOK, b2f(ok))
	ch <- gauge(descScrapeDur, seconds(time.Since(start)))
}

// label is a node's node label: its name as corosync-quorumtool shows it
// from the nodelist (2.x: its ring0_addr, 3.x: its name), or its id when
// the nodelist has none.
func label(s status.Snapshot, id uint32) string {
	if n, ok := s.Node(id); ok && n.NameFrom == status.NameNodelist {
		return n.Name
	}
	return strconv.FormatUint(uint64(id), 10)
}

// collect sends the metrics of snapshot s and reports whether every part
// was read.
func collect(ch chan<- prometheus.Metric, s status.Snapshot) bool {
	ringID := s.RingIDText()
	ch <- gauge(descQuorate, b2f(s.Quorate))
	ch <- gauge(descRingSeq, float64(s.Ring.Seq), ringID)
	part := func(p status.Part, send func()) bool {
		err := s.Err(p)
		ch <- gauge(descPartOK, b2f(err == nil), string(p))
		if err == nil {
			send()
		}
		return err == nil
	}
	ok := part(status.PartCmap, func() {})
	ok = part(status.PartVotequorum, func() { votes(ch, s) }) && ok
	ok = part(status.PartCfg, func() { links(ch, s, ringID) }) && ok
	// A 3.x daemon's stats map not dialed yet is no part of this scrape.
	if err := s.Err(status.PartStats); s.V2() || !errors.Is(err, status.ErrNotConnected) {
		ok = part(status.PartStats, func() { stats(ch, s) }) && ok
	}
	return ok
}

// votes sends quorum_votes, member_votes and the per-node and qdevice
// metrics.
func votes(ch chan<- prometheus.Metric, s status.Snapshot) {
	v := s.Votes
	ch <- gauge(descQuorumVotes, float64(v.ExpectedVotes), "expected_votes")
	ch <- gauge(descQuorumVotes, float64(v.HighestExpected), "highest_expected")
	ch <- gauge(descQuorumVotes, float64(v.TotalVotes), "total_votes")
	ch <- gauge(descQuorumVotes, float64(v.Quorum), "quorum")
	ch <- gauge(descQuorumRequired, float64(v.Quorum))
	for _, f := range []struct {
		name string
		bit  votequorum.Flags
	}{{"two_node", votequorum.FlagTwoNode}, {"quorate", votequorum.FlagQuorate}, {"wait_for_all", votequorum.FlagWaitForAll},
		{"last_man_standing", votequorum.FlagLastManStanding}, {"auto_tie_breaker", votequorum.FlagAutoTieBreaker},
		{"allow_downscale", votequorum.FlagAllowDownscale}} {
		ch <- gauge(descFlag, b2f(v.Flags.Has(f.bit)), f.name)
	}
	for _, n := range s.Nodes {
		if !n.Seen || n.State == 0 {
			continue
		}
		id, name := strconv.FormatUint(uint64(n.ID), 10), label(s, n.ID)
		ch <- gauge(descNodeVotes, float64(n.Votes), id, name)
		ch <- gauge(descNodeExpected, float64(n.ExpectedVotes), id, name)
		ch <- gauge(descNodeState, 1, id, name, n.State.String())
	}
	// member_votes: the quorum view list, as corosync-quorumtool -p lists it.
	for _, m := range s.Members {
		n, _ := s.Node(m)
		ch <- gauge(descMemberVotes, float64(n.Votes), strconv.FormatUint(uint64(m), 10), label(s, m), strconv.FormatBool(m == s.LocalNodeID))
	}
	if q := s.Qdevice; q != nil {
		votes := 0.0
		if q.CastVote {
			votes = float64(q.Votes)
		}
		ch <- gauge(descMemberVotes, votes, "0", "Qdevice", "false")
		ch <- gauge(descQdeviceVotes, float64(q.Votes), q.Name)
		for _, p := range []struct {
			name string
			set  bool
		}{{"registered", q.Registered}, {"alive", q.Alive}, {"cast_vote", q.CastVote}, {"master_wins", q.MasterWins}} {
			ch <- gauge(descQdevice, b2f(p.set), q.Name, p.name)
		}
	}
}

// links sends the per-node, per-link status and the compatible rings and
// ring_errors built from it: on knet one ring row per link of each node, 1
// when connected (or this node's own); on udp and udpu (corosync 2.x) one
// per ring of the local node, as ha_cluster_exporter reads `corosync-cfgtool
// -s` there (node_id the local node, number the ring's position, address
// its local address, 0 when FAULTY). Node status (corosync 3.1) adds
// reachability and MTU; corosync 3.0's ring status has neither.
func links(ch chan<- prometheus.Metric, s status.Snapshot, ringID string) {
	errs := 0
	for _, r := range s.Rings {
		if r.Faulty {
			errs++
		}
		ch <- gauge(descRings, b2f(!r.Faulty), ringID, strconv.FormatUint(uint64(s.LocalNodeID), 10), strconv.Itoa(r.Number), r.Address)
	}
	nodeStatus := s.Links == status.LinksFromNodeStatus
	for _, n := range s.Nodes {
		if !n.HasLinks {
			continue
		}
		nid, name := strconv.FormatUint(uint64(n.ID), 10), label(s, n.ID)
		if nodeStatus {
			ch <- gauge(descNodeReachable, b2f(n.Reachable), nid, name)
		}
		for _, l := range n.Links {
			link := strconv.Itoa(l.Number)
			if !l.Unknown {
				ch <- gauge(descLinkEnabled, b2f(l.Enabled), nid, name, link)
				ch <- gauge(descLinkConnected, b2f(l.Connected), nid, name, link)
			}
			if nodeStatus {
				ch <- gauge(descLinkMTU, float64(l.MTU), nid, name, link)
			}
			healthy, addr := l.Connected || n.Local, l.Dst
			if n.Local {
				addr = l.Src
			}
			if !healthy {
				errs++
			}
			ch <- gauge(descRings, b2f(healthy), ringID, nid, link, addr)
		}
	}
	ch <- gauge(descRingErrors, float64(errs))
}

// stats sends the knet link statistics and the IPC connection counts.
func stats(ch chan<- prometheus.Metric, s status.Snapshot) {
	if s.Stats == nil {
		return
	}
	for _, ls := range s.Stats.Links {
		nid, name, link := strconv.FormatUint(uint64(ls.NodeID), 10), label(s, ls.NodeID), strconv.Itoa(ls.Link)
		for _, k := range knetStats {
			ch <- prometheus.MustNewConstMetric(k.desc, k.kind, k.value(ls), nid, name, link)
		}
	}
	if ipc := s.Stats.IPC; ipc != nil {
		ch <- gauge(descIPCActive, float64(ipc.Active))
		ch <- prometheus.MustNewConstMetric(descIPCClosed, prometheus.CounterValue, float64(ipc.Closed))
	}
}
