package server

import (
	"fmt"
	"log/slog"
	"time"

	"herald/wire"
)

// Config configures a Server. Zero fields take the defaults shown.
type Config struct {
	// ClientAddr, PublisherAddr and AdminAddr are the listen addresses
	// ("127.0.0.1:7400", ":7401", ":7402" on 127.0.0.1). Port 0 picks a
	// free port; Server reports the ones chosen.
	ClientAddr    string
	PublisherAddr string
	AdminAddr     string
	// AdminToken authenticates the admin API (empty: a random one; a whole
	// process takes it from its data directory, see package node).
	AdminToken string
	// Loops is the number of event loops (GOMAXPROCS).
	Loops int
	// Heartbeat is the interval announced in WELCOME (30 s). A connection
	// that sends nothing for two intervals is closed with HEARTBEAT_TIMEOUT.
	Heartbeat time.Duration
	// AuthTimeout bounds the time from connect to HELLO (5 s).
	AuthTimeout time.Duration
	// MaxFrame is the largest accepted frame length on the publisher
	// listener (wire.DefaultMaxFrame): it bounds a PUBLISH.
	MaxFrame int
	// MaxClientFrame is the largest accepted frame length on the client
	// listener (4096): a client's largest frame is HELLO, about 1 KiB.
	MaxClientFrame int
	// FrameTimeout bounds the time from a frame's first byte to its last
	// (10 s); past it the connection is closed with FRAME_TIMEOUT.
	FrameTimeout time.Duration
	// MaxPartialBytes bounds the memory all connections together hold for
	// frames received in part (64 MiB); a connection whose partial frame
	// would pass it is closed with OVERLOADED.
	MaxPartialBytes int
	// MaxConnsPerUser caps one user's connections on the client listener
	// (16), MaxConnsPerAccount one account's on the publisher listener
	// (64); one more is refused with CONNECTION_LIMIT.
	MaxConnsPerUser    int
	MaxConnsPerAccount int
	// MaxOutbound caps a connection's queued outbound bytes (4 MiB); past
	// it the connection is closed with SLOW_CONSUMER.
	MaxOutbound int
	// MaxInflight caps one publisher connection's unacknowledged PUBLISHes
	// (1024); past it PUBLISH gets UNAVAILABLE.
	MaxInflight int
	// ProxyProtocol: every connection on the client and publisher
	// listeners starts with a PROXY protocol header (version 1 or 2, as
	// HAProxy's send-proxy and send-proxy-v2 write it) naming the client's
	// address; one that does not is closed with MALFORMED_FRAME. Set it
	// only behind such a proxy.
	ProxyProtocol bool
	// WebSocketOrigins are the origins ("https://example.com", scheme, host
	// and port as a browser sends them; "*" for any) whose pages may open a
	// WebSocket to the client listener. An upgrade request without an
	// Origin header (not a browser's) is always let in.
	WebSocketOrigins []string
	// WatchEvery is how often a watched broadcast's reach is looked at
	// (STATUS with WATCH; 1 s): a REACH goes out when it changed.
	WatchEvery time.Duration
	// InboxEvery is how often a watched inbox (INBOX with WATCH) is looked
	// at for new letters (250 ms).
	InboxEvery time.Duration
	// Logger receives the server's log lines (slog.Default() when nil).
	Logger *slog.Logger
}

// MaxFrameMargin is what MaxFrame must hold besides a payload: PUSH's and
// PUBLISH's other fields. An engine's payload limit must leave it.
const MaxFrameMargin = 1024

// minClientFrame is the length of a HELLO with the longest credential.
const minClientFrame = 2 + 1 + 4 + 2 + wire.MaxCredential

// maxFrame is the largest frame length accepted from a peer of role r.
func (c *Config) maxFrame(r role) int {
	if r == roleClient {
		return c.MaxClientFrame
	}
	return c.MaxFrame
}

func (c *Config) fill() error {
	defaults := []struct {
		field *string
		value string
	}{
		{&c.ClientAddr, "127.0.0.1:7400"},
		{&c.PublisherAddr, "127.0.0.1:7401"},
		{&c.AdminAddr, "127.0.0.1:7402"},
	}
	for _, d := range defaults {
		if *d.field == "" {
			*d.field = d.value
		}
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 30 * time.Second
	}
	if c.WatchEvery <= 0 {
		c.WatchEvery = time.Second
	}
	if c.InboxEvery <= 0 {
		c.InboxEvery = 250 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 5 * time.Second
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = wire.DefaultMaxFrame
	}
	if c.MaxClientFrame <= 0 {
		c.MaxClientFrame = 4096
	}
	if c.FrameTimeout <= 0 {
		c.FrameTimeout = 10 * time.Second
	}
	if c.MaxPartialBytes <= 0 {
		c.MaxPartialBytes = 64 << 20
	}
	if c.MaxConnsPerUser <= 0 {
		c.MaxConnsPerUser = 16
	}
	if c.MaxConnsPerAccount <= 0 {
		c.MaxConnsPerAccount = 64
	}
	if c.MaxOutbound <= 0 {
		c.MaxOutbound = 4 << 20
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 1024
	}
	if c.MaxFrame < 1024 {
		return fmt.Errorf("%w: MaxFrame %d below 1024", ErrConfig, c.MaxFrame)
	}
	if c.MaxClientFrame < minClientFrame {
		return fmt.Errorf("%w: MaxClientFrame %d below %d (a HELLO with the longest credential)", ErrConfig, c.MaxClientFrame, minClientFrame)
	}
	if c.MaxOutbound < c.MaxFrame {
		return fmt.Errorf("%w: MaxOutbound %d below MaxFrame %d", ErrConfig, c.MaxOutbound, c.MaxFrame)
	}
	if c.Heartbeat > time.Duration(1<<32-1)*time.Millisecond {
		return fmt.Errorf("%w: Heartbeat %v too long", ErrConfig, c.Heartbeat)
	}
	return nil
}
