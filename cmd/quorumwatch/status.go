package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/corosync-go/corosync/client"
	cstatus "github.com/corosync-go/corosync/status"
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
	// QdeviceExtraInfo is the extra info the node's device set (corosync
	// main), as corosync-quorumtool -s prints it after the name.
	QdeviceExtraInfo string `json:"qdevice_extra_info,omitempty"`
	Name             string `json:"name"`
	Local            bool   `json:"local"`
}

type qdevStatus struct {
	Name     string `json:"name"`
	Votes    uint32 `json:"votes"`
	CastVote bool   `json:"cast_vote"`
}

// runStatus prints the status once; exit codes as -once.
func runStatus(ctx context.Context, o options, out io.Writer, d transport.Dialer) (int, error) {
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	s, err := cstatus.Get(dctx, client.WithDialer(d))
	var partial *cstatus.PartialError
	if err != nil && !errors.As(err, &partial) {
		return exitError, fmt.Errorf("cannot connect to corosync: %w", err)
	}
	// What quorumtool -s cannot do without: the quorum state, this node's
	// id and, under votequorum, the votes.
	for _, p := range []cstatus.Part{cstatus.PartQuorum, cstatus.PartCfg} {
		if err := s.Err(p); err != nil && (p != cstatus.PartCfg || s.LocalNodeID == 0) {
			return exitError, err
		}
	}
	if err := s.Err(cstatus.PartVotequorum); err != nil && s.HasVotequorum() && s.Votes == nil {
		return exitError, err
	}
	return finish(report(s), o, out)
}

// report is the snapshot in corosync-quorumtool -s's terms.
func report(s cstatus.Snapshot) status {
	st := status{Quorate: s.Quorate, Provider: pick(s.Provider != "", s.Provider, "Not configured"),
		Nodes: len(s.Members), NodeID: s.LocalNodeID, RingID: s.RingIDText()}
	if !s.HasVotequorum() {
		for _, id := range s.Members {
			n, _ := s.Node(id)
			st.Membership = append(st.Membership, memberStatus{NodeID: id, Name: n.Name, Local: id == s.LocalNodeID})
		}
		return st
	}
	var v cstatus.Votes
	if s.Votes != nil {
		v = *s.Votes
	}
	st.Votequorum = &vqStatus{ExpectedVotes: v.ExpectedVotes, HighestExpected: v.HighestExpected,
		TotalVotes: v.TotalVotes, Quorum: v.Quorum, Flags: v.FlagNames()}
	device := false
	for _, id := range s.Members {
		if n, _ := s.Node(id); n.Flags.Has(votequorum.FlagQdevice) {
			device = true
		}
	}
	for _, id := range s.Members {
		n, _ := s.Node(id)
		m := memberStatus{NodeID: id, Votes: n.Votes, Name: n.Name, Local: id == s.LocalNodeID}
		if device {
			m.Qdevice = n.QdeviceState()
			if n.Flags.Has(votequorum.FlagQdevice|votequorum.FlagQdeviceHasExtraInfo) && n.QdeviceExtraInfo != nil {
				m.QdeviceExtraInfo = extraInfoText(n.QdeviceExtraInfo)
			}
		}
		st.Membership = append(st.Membership, m)
	}
	if device {
		q := &qdevStatus{}
		if s.Qdevice != nil {
			q.Name, q.Votes, q.CastVote = s.Qdevice.Name, s.Qdevice.Votes, s.Qdevice.CastVote
		}
		st.Qdevice = q
	}
	return st
}

// extraInfoText renders a quorum device's extra info as corosync main's
// corosync-quorumtool does: a string ending in its NUL with nothing but
// printable ASCII before it as that string, anything else as "N bytes: "
// and each byte in hex followed by a space; nothing as "<unset>".
func extraInfoText(ei []byte) string {
	if len(ei) == 0 {
		return "<unset>"
	}
	printable := ei[len(ei)-1] == 0
	for _, c := range ei[:len(ei)-1] {
		if c < 0x20 || c > 0x7e {
			printable = false
		}
	}
	if printable {
		return string(ei[:len(ei)-1])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d bytes: ", len(ei))
	for _, c := range ei {
		fmt.Fprintf(&b, "%02X ", c)
	}
	return b.String()
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
		if m.QdeviceExtraInfo != "" {
			b.WriteString(" [" + m.QdeviceExtraInfo + "]")
		}
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
