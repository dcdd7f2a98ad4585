// SPDX-License-Identifier: Apache-2.0

package lab

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// proxyChild marks the child process of TestChildEnvNoProxy.
const proxyChild = "SYMDIST_LAB_PROXY_CHILD"

// A process started with childEnv reaches the lab's addresses directly
// even with HTTP_PROXY set, whatever NO_PROXY it had: a recording proxy
// sees none of its requests. net/http reads the variables once per
// process, hence the child (this test binary again).
func TestChildEnvNoProxy(t *testing.T) {
	if os.Getenv(proxyChild) == "1" {
		c := http.Client{Timeout: 300 * time.Millisecond}
		for _, u := range []string{"http://198.18.0.1:9/api/status", "http://198.19.255.1:9/", "http://10.0.1.1:8081/stats"} {
			// Whether anything answers directly does not matter here.
			if resp, err := c.Get(u); err == nil {
				resp.Body.Close()
			}
		}
		fmt.Println("requested") // the parent counts what the proxy saw
		return
	}
	var seen atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1) }))
	defer proxy.Close()
	for _, noProxy := range []string{"", "example.com,.internal"} {
		seen.Store(0)
		t.Setenv("HTTP_PROXY", proxy.URL)
		t.Setenv("http_proxy", proxy.URL)
		t.Setenv("NO_PROXY", noProxy)
		t.Setenv("no_proxy", noProxy)
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildEnvNoProxy$", "-test.count=1")
		cmd.Env = append(childEnv(), proxyChild+"=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "requested") {
			t.Errorf("NO_PROXY=%q: %v\n%s", noProxy, err, out)
		}
		if n := seen.Load(); n != 0 {
			t.Errorf("NO_PROXY=%q: the proxy got %d requests", noProxy, n)
		}
	}
}
