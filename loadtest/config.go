package loadtest

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Config describes one fan-out run. Zero fields take the defaults shown.
type Config struct {
	// Clients is the number of connected followers (1000).
	Clients int
	// Followers is the account's follower count, at least Clients
	// (Clients); followers beyond Clients are offline.
	Followers int
	// Broadcasts is the number of bursts published (20).
	Broadcasts int
	// Payload is the broadcast size in bytes, at least 16 (256).
	Payload int
	// Timeout bounds the wait for one burst to reach every client (30 s).
	Timeout time.Duration
	// Target is an external server; nil starts the embedded one.
	Target *Target
}

// Target names an external server.
type Target struct {
	ClientAddr    string
	PublisherAddr string
	AdminURL      string
	AdminToken    string
	// Tier is the tier of the accounts the run creates; it must publish
	// without quotas (default "unlimited", which the embedded server
	// defines; herald serve --tiers can define one).
	Tier string
}

// ErrTooManyClients: the run needs more files than one process may open.
var ErrTooManyClients = errors.New("loadtest: too many clients for this process's open-file limit")

// fdReserve is kept back from the open-file limit for the runtime, HTTP
// and the log.
const fdReserve = 200

func (c *Config) fill() error {
	if c.Clients <= 0 {
		c.Clients = 1000
	}
	if c.Followers < c.Clients {
		c.Followers = c.Clients
	}
	if c.Broadcasts <= 0 {
		c.Broadcasts = 20
	}
	if c.Payload <= 0 {
		c.Payload = 256
	}
	if c.Payload < 16 {
		return fmt.Errorf("loadtest: payload of %d bytes cannot carry the 16-byte timestamp header", c.Payload)
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		if fit := int(lim.Cur) - fdReserve; c.Clients > fit {
			return fmt.Errorf("%w: %d clients need %d open files, but this process may open %d (ulimit -n). "+
				"Use --clients %d or fewer; spreading clients over worker processes is not built yet",
				ErrTooManyClients, c.Clients, c.Clients+fdReserve, lim.Cur, max(fit, 0))
		}
	}
	return nil
}
