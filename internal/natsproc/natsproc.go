// Package natsproc runs a NATS server (the nats-server module, embedded)
// in a child process of the current executable, for the benchmarks and
// the load test's cluster: its CPU is then measured apart from theirs,
// and its monitoring endpoint says how many messages and bytes crossed.
package natsproc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"herald/internal/child"
)

// Flag is the hidden first argument with which a binary whose main calls
// MaybeServe runs as a NATS server.
const Flag = "__herald-nats"

// MaybeServe turns the process into a NATS server on free loopback ports
// when it was started with Flag, and never returns in that case.
func MaybeServe() {
	if len(os.Args) < 2 || os.Args[1] != Flag {
		return
	}
	port := -1
	if len(os.Args) > 2 {
		p, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "error: port:", err)
			os.Exit(1)
		}
		port = p
	}
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, HTTPHost: "127.0.0.1", HTTPPort: -1, NoLog: true, NoSigs: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		fmt.Fprintln(os.Stderr, "error: NATS did not start")
		os.Exit(1)
	}
	stop := make(chan struct{})
	child.ExitWithParent(func() { close(stop) })
	child.Announce("nats", "url", srv.ClientURL(), "monitor", "http://"+srv.MonitorAddr().String())
	<-stop
	srv.Shutdown()
	os.Exit(0)
}

// Process is a NATS server in a child process.
type Process struct {
	*child.Process
	URL, Monitor string
}

// Start runs this executable as a NATS server under wrapper (say taskset
// -c 0) if given, and waits until it serves.
func Start(wrapper ...string) (*Process, error) { return StartOn(0, wrapper...) }

// StartOn is Start on a given port of 127.0.0.1 (0: a free one), for a
// server restarted where its clients reconnect.
func StartOn(port int, wrapper ...string) (*Process, error) {
	args := []string{Flag}
	if port > 0 {
		args = append(args, strconv.Itoa(port))
	}
	p, err := child.Start(wrapper, args...)
	if err != nil {
		return nil, err
	}
	return &Process{Process: p, URL: p.Announced["url"], Monitor: p.Announced["monitor"]}, nil
}

// Port is the port the server listens on.
func (p *Process) Port() int {
	u, err := url.Parse(p.URL)
	if err != nil {
		return 0
	}
	port, _ := strconv.Atoi(u.Port())
	return port
}

// Traffic is what the server has carried so far.
type Traffic struct {
	InMsgs   int64 `json:"in_msgs"`
	OutMsgs  int64 `json:"out_msgs"`
	InBytes  int64 `json:"in_bytes"`
	OutBytes int64 `json:"out_bytes"`
}

// Traffic reads the server's counters from its monitoring endpoint.
func (p *Process) Traffic() (Traffic, error) {
	resp, err := http.Get(p.Monitor + "/varz")
	if err != nil {
		return Traffic{}, err
	}
	defer resp.Body.Close()
	var t Traffic
	return t, json.NewDecoder(resp.Body).Decode(&t)
}

// Sub is the traffic from before to t.
func (t Traffic) Sub(before Traffic) Traffic {
	return Traffic{InMsgs: t.InMsgs - before.InMsgs, OutMsgs: t.OutMsgs - before.OutMsgs, InBytes: t.InBytes - before.InBytes, OutBytes: t.OutBytes - before.OutBytes}
}
