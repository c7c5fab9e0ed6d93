// Package matrix holds the tests that hold the module to every corosync
// release of the version matrix (2.4.6, 3.0.4, 3.1.7, 3.1.10, main, and
// 3.1.10 on libqb 1.0.3):
//
//   - each service's request table (the ids the client may send and the
//     release that introduced each) against each release's own IPC headers,
//     read from the source archives in ../shared/upstream, and the versions
//     section of each wire package's SPEC.md, generated from them;
//   - the safety test: every public call, with its options and boundary
//     arguments, against a real cluster of every daemon, which must still
//     be alive and answering afterwards.
//
// It has no code of its own; everything is in its tests.
package matrix
