//go:build oracle

package cfgoracle

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// Parsers of corosync-cfgtool 3.1.7 output, and what that output must be
// for a set of node statuses (tools/corosync-cfgtool.c, nodestatusget_do).

// ToolLinks is `corosync-cfgtool -s`: per link, its address and the word
// printed for each node.
type ToolLinks struct {
	LocalID   uint32
	Transport string
	Links     map[int]ToolLink
}

// ToolLink is one "LINK ID" block of -s.
type ToolLink struct {
	Transport string
	Addr      string
	Status    map[uint32]string // "localhost", "connected", "disconnected"
}

// ToolNodes is `corosync-cfgtool -n`: the reachable non-local nodes.
type ToolNodes struct {
	LocalID   uint32
	Transport string
	Nodes     map[uint32]ToolNode
}

// ToolNode is one "nodeid:" block of -n.
type ToolNode struct {
	Remote, External bool
	Links            map[int]cfgwire.LinkStatus
}

func parseHeader(line string) (uint32, string, error) {
	var id uint32
	var tr string
	if _, err := fmt.Sscanf(line, "Local node ID %d, transport %s", &id, &tr); err != nil {
		return 0, "", fmt.Errorf("header %q: %v", line, err)
	}
	return id, tr, nil
}

// ParseToolS parses corosync-cfgtool -s output.
func ParseToolS(out string) (ToolLinks, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var r ToolLinks
	var err error
	if r.LocalID, r.Transport, err = parseHeader(lines[0]); err != nil {
		return r, err
	}
	r.Links = map[int]ToolLink{}
	cur := -1
	for _, l := range lines[1:] {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "LINK ID "):
			f := strings.Fields(t)
			if len(f) < 3 {
				return r, fmt.Errorf("link line %q", l)
			}
			if cur, err = strconv.Atoi(f[2]); err != nil {
				return r, fmt.Errorf("link line %q: %v", l, err)
			}
			tl := ToolLink{Status: map[uint32]string{}}
			if len(f) > 3 {
				tl.Transport = f[3]
			}
			r.Links[cur] = tl
		case strings.HasPrefix(t, "addr"):
			_, v, ok := strings.Cut(t, "=")
			if !ok || cur < 0 {
				return r, fmt.Errorf("addr line %q", l)
			}
			tl := r.Links[cur]
			tl.Addr = strings.TrimSpace(v)
			r.Links[cur] = tl
		case t == "status:":
		case strings.HasPrefix(t, "nodeid:"):
			f := strings.Fields(strings.TrimPrefix(t, "nodeid:"))
			if len(f) != 2 || cur < 0 {
				return r, fmt.Errorf("status line %q", l)
			}
			id, err := strconv.ParseUint(strings.TrimSuffix(f[0], ":"), 10, 32)
			if err != nil {
				return r, fmt.Errorf("status line %q: %v", l, err)
			}
			r.Links[cur].Status[uint32(id)] = f[1]
		case t == "":
		default:
			return r, fmt.Errorf("unexpected line %q", l)
		}
	}
	return r, nil
}

// ParseToolN parses corosync-cfgtool -n output.
func ParseToolN(out string) (ToolNodes, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var r ToolNodes
	var err error
	if r.LocalID, r.Transport, err = parseHeader(lines[0]); err != nil {
		return r, err
	}
	r.Nodes = map[uint32]ToolNode{}
	var cur uint32
	for _, l := range lines[1:] {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "nodeid:"):
			f := strings.Fields(strings.TrimPrefix(t, "nodeid:"))
			if len(f) < 2 || f[1] != "reachable" {
				return r, fmt.Errorf("node line %q", l)
			}
			id, err := strconv.ParseUint(f[0], 10, 32)
			if err != nil {
				return r, fmt.Errorf("node line %q: %v", l, err)
			}
			cur = uint32(id)
			n := ToolNode{Links: map[int]cfgwire.LinkStatus{}}
			for _, w := range f[2:] {
				switch w {
				case "remote":
					n.Remote = true
				case "external":
					n.External = true
				default:
					return r, fmt.Errorf("node line %q: word %q", l, w)
				}
			}
			r.Nodes[cur] = n
		case strings.HasPrefix(t, "LINK:"):
			// LINK: 0 udp (src->dst) enabled connected mtu: 1446
			open, close := strings.Index(t, "("), strings.Index(t, ")")
			if cur == 0 || open < 0 || close < open {
				return r, fmt.Errorf("link line %q", l)
			}
			head := strings.Fields(t[:open])
			if len(head) < 2 {
				return r, fmt.Errorf("link line %q", l)
			}
			link, err := strconv.Atoi(head[1])
			if err != nil {
				return r, fmt.Errorf("link line %q: %v", l, err)
			}
			var ls cfgwire.LinkStatus
			ls.Src, ls.Dst, _ = strings.Cut(t[open+1:close], "->")
			tail := strings.Fields(t[close+1:])
			for i := 0; i < len(tail); i++ {
				switch tail[i] {
				case "enabled":
					ls.Enabled = true
				case "connected":
					ls.Connected = true
				case "dynconnected":
					ls.DynConnected = true
				case "mtu:":
					if i+1 >= len(tail) {
						return r, fmt.Errorf("link line %q: no mtu", l)
					}
					v, err := strconv.ParseUint(tail[i+1], 10, 32)
					if err != nil {
						return r, fmt.Errorf("link line %q: %v", l, err)
					}
					ls.MTU = uint32(v)
					i++
				default:
					return r, fmt.Errorf("link line %q: word %q", l, tail[i])
				}
			}
			r.Nodes[cur].Links[link] = ls
		case t == "":
		default:
			return r, fmt.Errorf("unexpected line %q", l)
		}
	}
	return r, nil
}

// ExpectToolS is what -s prints for these statuses (ids in nodelist order).
func ExpectToolS(local uint32, ids []uint32, st map[uint32]cfgwire.NodeStatus) ToolLinks {
	other := uint32(0)
	for _, id := range ids {
		if id != local {
			other = id
		}
	}
	r := ToolLinks{LocalID: local, Transport: "knet", Links: map[int]ToolLink{}}
	for i := 0; i < cfgwire.MaxLinks; i++ {
		ol := st[other].Links[i]
		if !ol.Enabled {
			continue
		}
		tl := ToolLink{Transport: "udp", Addr: ol.Src, Status: map[uint32]string{}}
		for _, id := range ids {
			switch {
			case id == local:
				tl.Status[st[id].NodeID] = "localhost"
			case st[id].Links[i].Connected:
				tl.Status[st[id].NodeID] = "connected"
			default:
				tl.Status[st[id].NodeID] = "disconnected"
			}
		}
		r.Links[i] = tl
	}
	return r
}

// ExpectToolN is what -n prints for these statuses.
func ExpectToolN(local uint32, ids []uint32, st map[uint32]cfgwire.NodeStatus) ToolNodes {
	r := ToolNodes{LocalID: local, Transport: "knet", Nodes: map[uint32]ToolNode{}}
	for _, id := range ids {
		s := st[id]
		if !s.Reachable || s.NodeID == local {
			continue
		}
		n := ToolNode{Remote: s.Remote, External: s.External, Links: map[int]cfgwire.LinkStatus{}}
		for i, l := range s.Links {
			if l.Enabled {
				n.Links[i] = l
			}
		}
		r.Nodes[s.NodeID] = n
	}
	return r
}
