package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/votequorum"
)

// status is what corosync-quorumtool -s shows.
type status struct {
	Provider   string         `json:"quorum_provider"`
	Nodes      int            `json:"nodes"`
	NodeID     uint32         `json:"node_id"`
	RingID     string         `json:"ring_id"`
	Quorate    bool           `json:"quorate"`
	Votequorum *vqStatus      `json:"votequorum,omitempty"`
	Membership []memberStatus `json:"membership"`
	Qdevice    *qdevStatus    `json:"qdevice,omitempty"`
}

type vqStatus struct {
	ExpectedVotes   uint32   `json:"expected_votes"`
	HighestExpected uint32   `json:"highest_expected"`
	TotalVotes      uint32   `json:"total_votes"`
	Quorum          uint32   `json:"quorum"`
	Flags           []string `json:"flags"`
}

type memberStatus struct {
	NodeID uint32 `json:"nodeid"`
	Votes  uint32 `json:"votes"`
	// Qdevice is quorumtool's column: "NR" (no device registered on that
	// node) or "A|NA,V|NV,MW|NMW"; "" when no node has a device.
	Qdevice string `json:"qdevice,omitempty"`
	Name    string `json:"name"`
	Local   bool   `json:"local"`
}

type qdevStatus struct {
	Name     string `json:"name"`
	Votes    uint32 `json:"votes"`
	CastVote bool   `json:"cast_vote"`
}

// quorumtoolFlags are the flags corosync-quorumtool prints, by bit.
var quorumtoolFlags = []struct {
	f    votequorum.Flags
	name string
}{
	{votequorum.FlagTwoNode, "2Node"}, {votequorum.FlagQuorate, "Quorate"},
	{votequorum.FlagWaitForAll, "WaitForAll"}, {votequorum.FlagLastManStanding, "LastManStanding"},
	{votequorum.FlagAutoTieBreaker, "AutoTieBreaker"}, {votequorum.FlagAllowDownscale, "AllowDownscale"},
	{votequorum.FlagQdevice, "Qdevice"},
}

// runStatus prints the status once; exit codes as -once.
func runStatus(ctx context.Context, o options, out io.Writer, d transport.Dialer) (int, error) {
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	qc, err := quorum.Dial(dctx, client.WithDialer(d))
	if err != nil {
		return exitError, fmt.Errorf("cannot connect to corosync: %w", err)
	}
	defer qc.Close()
	quorate, err := qc.Quorate(dctx)
	if err != nil {
		return exitError, err
	}
	st := status{Quorate: quorate, Provider: "Not configured"}
	cm, err := d.Dial(dctx, "cmap")
	if err != nil {
		return exitError, err
	}
	defer cm.Close()
	if qc.Type() == quorum.QuorumSet {
		if p, err := cmapString(dctx, cm, "quorum.provider"); err == nil {
			st.Provider = p
		}
	}
	// corosync 2.x's quorumtool prints ring ids in decimal and names nodes
	// by their ring0_addr; 3.x's in hex, and by their name.
	v2 := olderThan3(qc.DaemonVersion())
	ev := qc.Latest()
	st.Nodes = len(ev.Members)
	st.RingID = fmt.Sprintf(pick(v2, "%d", "%x"), ev.Ring.Seq)
	cc, err := cfg.Dial(dctx, client.WithDialer(d), client.WithoutReconnect())
	if err != nil {
		return exitError, err
	}
	defer cc.Close()
	if st.NodeID, err = cc.LocalNodeID(dctx); err != nil {
		return exitError, err
	}
	nodelist := nodelistNames(dctx, cm, pick(v2, "ring0_addr", "name"))
	names := func(id uint32) string {
		if n := nodelist[id]; n != "" {
			return n
		}
		addrs, err := cc.NodeAddrs(dctx, id)
		if err != nil || len(addrs) == 0 {
			return ""
		}
		return addrs[0].String()
	}
	if st.Provider != "corosync_votequorum" {
		for _, id := range ev.Members {
			st.Membership = append(st.Membership, memberStatus{NodeID: id, Name: names(id), Local: id == st.NodeID})
		}
		return finish(st, o, out)
	}
	vc, err := votequorum.Dial(dctx, client.WithDialer(d), client.WithoutReconnect())
	if err != nil {
		return exitError, err
	}
	defer vc.Close()
	if rep := vc.Latest().Ring.NodeID; v2 {
		st.RingID = fmt.Sprintf("%d/%d", int32(rep), ev.Ring.Seq)
	} else {
		st.RingID = fmt.Sprintf("%x.%x", rep, ev.Ring.Seq)
	}
	info, err := vc.Info(dctx, st.NodeID)
	if err != nil && corosync.Code(err) != corosync.ErrNotExist {
		return exitError, err
	}
	v := &vqStatus{ExpectedVotes: info.NodeExpectedVotes, HighestExpected: info.HighestExpected,
		TotalVotes: info.TotalVotes, Quorum: info.Quorum, Flags: []string{}}
	for _, f := range quorumtoolFlags {
		if info.Flags.Has(f.f) {
			v.Flags = append(v.Flags, f.name)
		}
	}
	st.Votequorum = v
	infos := make([]votequorum.Info, len(ev.Members))
	device := false
	var first votequorum.Info
	var ourFlags votequorum.Flags
	for i, id := range ev.Members {
		infos[i], _ = vc.Info(dctx, id) // quorumtool prints zeros for an error
		if i == 0 {
			first = infos[i]
		}
		if infos[i].Flags.Has(votequorum.FlagQdevice) {
			device = true
		}
	}
	for i, id := range ev.Members {
		m := memberStatus{NodeID: id, Votes: infos[i].NodeVotes, Name: names(id), Local: id == st.NodeID}
		if device {
			m.Qdevice = "NR"
			if f := infos[i].Flags; f.Has(votequorum.FlagQdevice) {
				m.Qdevice = pick(f.Has(votequorum.FlagQdeviceAlive), "A", "NA") + "," +
					pick(f.Has(votequorum.FlagQdeviceCastVote), "V", "NV") + "," +
					pick(f.Has(votequorum.FlagQdeviceMasterWins), "MW", "NMW")
			}
		}
		if m.Local {
			ourFlags = infos[i].Flags
		}
		st.Membership = append(st.Membership, m)
	}
	if device {
		st.Qdevice = &qdevStatus{Name: first.QdeviceName, Votes: first.QdeviceVotes, CastVote: ourFlags.Has(votequorum.FlagQdeviceCastVote)}
	}
	return finish(st, o, out)
}

func pick(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func finish(st status, o options, out io.Writer) (int, error) {
	if o.json {
		b, err := json.Marshal(st)
		if err != nil {
			return exitError, err
		}
		fmt.Fprintf(out, "%s\n", b)
	} else {
		io.WriteString(out, st.text())
	}
	if st.Quorate {
		return exitQuorate, nil
	}
	return exitNotQuorate, nil
}

// pad is quorumtool's print_string_padded: right-aligned in 10, a space.
func pad(b *strings.Builder, s string) { fmt.Fprintf(b, "%10s ", s) }

// text renders st in corosync-quorumtool -s's layout, without its Date
// line.
func (st status) text() string {
	var b strings.Builder
	b.WriteString("Quorum information\n------------------\n")
	fmt.Fprintf(&b, "Quorum provider:  %s\n", st.Provider)
	fmt.Fprintf(&b, "Nodes:            %d\n", st.Nodes)
	fmt.Fprintf(&b, "Node ID:          %d\n", st.NodeID)
	fmt.Fprintf(&b, "Ring ID:          %s\n", st.RingID)
	fmt.Fprintf(&b, "Quorate:          %s\n", pick(st.Quorate, "Yes", "No"))
	v := st.Votequorum
	if v == nil {
		return b.String()
	}
	b.WriteString("\nVotequorum information\n----------------------\n")
	fmt.Fprintf(&b, "Expected votes:   %d\n", v.ExpectedVotes)
	fmt.Fprintf(&b, "Highest expected: %d\n", v.HighestExpected)
	fmt.Fprintf(&b, "Total votes:      %d\n", v.TotalVotes)
	fmt.Fprintf(&b, "Quorum:           %d %s\n", v.Quorum, pick(slicesContains(v.Flags, "Quorate"), " ", "Activity blocked"))
	b.WriteString("Flags:            ")
	for _, f := range v.Flags {
		b.WriteString(f + " ")
	}
	b.WriteString("\n\nMembership information\n----------------------\n")
	pad(&b, "Nodeid")
	pad(&b, "Votes")
	if st.Qdevice != nil {
		pad(&b, "Qdevice")
	}
	b.WriteString("Name\n")
	for _, m := range st.Membership {
		pad(&b, strconv.FormatUint(uint64(m.NodeID), 10))
		pad(&b, strconv.FormatUint(uint64(m.Votes), 10))
		if st.Qdevice != nil {
			pad(&b, m.Qdevice)
		}
		b.WriteString(m.Name)
		if m.Local {
			b.WriteString(" (local)")
		}
		b.WriteString("\n")
	}
	if q := st.Qdevice; q != nil {
		pad(&b, "0")
		if q.CastVote {
			pad(&b, strconv.FormatUint(uint64(q.Votes), 10))
			fmt.Fprintf(&b, "           %s\n", q.Name)
		} else {
			pad(&b, "0")
			fmt.Fprintf(&b, "           %s (votes %d)\n", q.Name, q.Votes)
		}
	}
	return b.String()
}

func slicesContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// olderThan3 reports whether v is a corosync 2.x; an unknown version is
// taken for 3.x.
func olderThan3(v corosync.Version) bool {
	return v != (corosync.Version{}) && !v.AtLeast(corosync.Version3_0)
}

// nodelistNames reads the nodelist's names by node id from each node's key
// field: quorumtool's default names are "name" on 3.x, "ring0_addr" on 2.x;
// a node without one is shown by its first address.
func nodelistNames(ctx context.Context, cm transport.Conn, field string) map[uint32]string {
	names := map[uint32]string{}
	for pos := 0; pos < 1024; pos++ {
		base := "nodelist.node." + strconv.Itoa(pos) + "."
		v, err := cmapGet(ctx, cm, base+"nodeid")
		if corosync.Code(err) == corosync.ErrNotExist {
			break
		}
		if err != nil || v.Len() != 4 {
			continue
		}
		if name, err := cmapString(ctx, cm, base+field); err == nil {
			names[binary.LittleEndian.Uint32(v.Bytes())] = name
		}
	}
	return names
}

// cmapGet reads one cmap key.
func cmapGet(ctx context.Context, cm transport.Conn, key string) (cmapwire.Value, error) {
	req, err := cmapwire.AppendGet(nil, key)
	if err != nil {
		return cmapwire.Value{}, err
	}
	resp, err := cm.Request(ctx, req, make([]byte, 0, cmapwire.GetResponseSize+cmapwire.GetBufferSize))
	if err != nil {
		return cmapwire.Value{}, err
	}
	r, err := cmapwire.DecodeResponse(resp, cmapwire.ReqGet)
	if err != nil {
		return cmapwire.Value{}, corosync.NewError("cmap get", corosync.ErrMessageError, err)
	}
	if err := r.Err(); err != nil {
		return cmapwire.Value{}, corosync.NewError("cmap get "+key, corosync.Code(err), err)
	}
	return r.Value, nil
}

func cmapString(ctx context.Context, cm transport.Conn, key string) (string, error) {
	v, err := cmapGet(ctx, cm, key)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(v.Bytes()), "\x00"), nil
}
