package cpg_test

import (
	"testing"

	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
)

func mockDialers(c *mock.Cluster, ids ...uint32) map[uint32]transport.Dialer {
	m := map[uint32]transport.Dialer{}
	for _, id := range ids {
		m[id] = c.Node(id)
	}
	return m
}

func TestMockSynchronyKill(t *testing.T) {
	c := mock.NewCluster(3)
	synchrony(t, mockDialers(c, 1, 2, 3), 3, cpg.ReasonNodeDown, 200, func() { c.Kill(3) })
}

func TestMockSynchronyPartition(t *testing.T) {
	c := mock.NewCluster(3)
	synchrony(t, mockDialers(c, 1, 2, 3), 3, cpg.ReasonNodeDown, 200, func() { c.Partition([]uint32{1, 2}, []uint32{3}) })
}

func TestMockGroup(t *testing.T) {
	c := mock.NewCluster(3)
	groupOps(t, mockDialers(c, 1, 2, 3))
}

func TestMockOverflow(t *testing.T) {
	c := mock.NewCluster(3)
	overflow(t, mockDialers(c, 1, 2, 3))
}

func TestMockBacklog(t *testing.T) {
	c := mock.NewCluster(3)
	backlog(t, mockDialers(c, 1, 2, 3))
}
