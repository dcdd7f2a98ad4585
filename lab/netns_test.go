// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The probe behind Missing leaves no namespace behind.
func TestMissingCleansUp(t *testing.T) {
	if why := Missing(); why != "" {
		t.Skip("lab: " + why)
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	if ns := fmt.Sprintf("symdist-probe-%d", os.Getpid()); strings.Contains(string(out), ns) {
		t.Errorf("probe namespace %s left behind:\n%s", ns, out)
	}
}

// setSysctl writes the namespace's value, not the root namespace's.
func TestSetSysctl(t *testing.T) {
	if why := Missing(); why != "" {
		t.Skip("lab: " + why)
	}
	const key = "net/ipv4/conf/all/rp_filter"
	read := func(v *string) error {
		b, err := os.ReadFile("/proc/sys/" + key)
		*v = strings.TrimSpace(string(b))
		return err
	}
	var root string
	if err := read(&root); err != nil {
		t.Fatal(err)
	}
	want := "2"
	if root == want {
		want = "1"
	}
	ns := fmt.Sprintf("symdist-sysctl-%d", os.Getpid())
	_ = sh("ip", "netns", "del", ns) // left over from a killed run
	if err := sh("ip", "netns", "add", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh("ip", "netns", "del", ns) })
	if err := setSysctl(ns, key, want); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := InNS(ns, func() error { return read(&got) }); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("%s in %s = %q, want %q", key, ns, got, want)
	}
	var now string
	if err := read(&now); err != nil {
		t.Fatal(err)
	}
	if now != root {
		t.Errorf("%s in the root namespace changed from %q to %q", key, root, now)
	}
	if err := setSysctl(ns, "net/no/such/key", "1"); err == nil {
		t.Error("setSysctl of a missing key: no error")
	}
}
