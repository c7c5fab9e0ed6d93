// Package stress holds the tests that hold the client suite to leaving no
// trace on a real cluster under abuse (issue 20): every way a client ends
// (Close, Leave, a ctx that ends, a connect abandoned mid-handshake, a
// daemon killed under it) leaves no error line in any daemon's log, nothing
// in /dev/shm, and only errors of the documented classes.
//
//   - TestGoodbyes: 300 Dial+Close and 300 abandoned Dials of every service
//     (with tracking on and events flowing), on a 3-node cluster: 0 error
//     lines on every node, nothing left in /dev/shm. cpg's Join+Leave,
//     Join+Close and abandoned Joins are cpg's TestReal/goodbyes.
//   - TestStress: the adversarial load through the public API
//     (tiny deadlines, abandoned iterations, track churn, a track never
//     read, Dial/Close churn, cpg join/leave churn and a mixed-size flood
//     with a slow and a never-reading member), then a kill -9 of node 1's
//     daemon under load and a partition and heal of node 3. Short in
//     `make test`; COROSYNC_GO_SOAK=1 runs the long soak.
//
// It has no code of its own; everything is in its tests.
package stress
