package buildinfo

import "fmt"

// A command prints its version this way on --version.
func ExampleInfo_String() {
	in := Info{Version: "v0.3.0", Revision: "1abcdea05db9", GoVersion: "go1.26.8", Platform: "linux/amd64"}
	fmt.Print(in.String("corosync-exporter"))
	// Output:
	// corosync-exporter, version v0.3.0 (revision: 1abcdea05db9)
	//   go version:       go1.26.8
	//   platform:         linux/amd64
}
