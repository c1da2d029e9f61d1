// Package netnstest runs a package's tests in a network namespace of
// their own, so that the interfaces they create never touch the host's.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// envMarker is set in the environment of the re-executed test binary.
const envMarker = "TEAMGW_TEST_NETNS"

// Main is a package's TestMain body: outside a fresh namespace it runs
// the test binary again under "unshare --net" (root) and exits with its
// status; inside, it runs the tests. A failure to unshare fails the run:
// the tests must not skip for lack of root.
func Main(m *testing.M) {
	if os.Getenv(envMarker) == "" {
		cmd := exec.Command("unshare", append([]string{"--net", os.Args[0]}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), envMarker+"=1")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, "unshare --net (the tests need root):", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
