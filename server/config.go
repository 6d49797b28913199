package server

import (
	"fmt"
	"time"

	"herald/fanout"
	"herald/server/wire"
)

// Config configures a Server. Zero fields take the defaults shown.
type Config struct {
	// DataDir holds the Pebble database and admin.token ("herald-data").
	DataDir string
	// InMemory keeps everything in memory (tests); DataDir is ignored.
	InMemory bool
	// ClientAddr, PublisherAddr and AdminAddr are the listen addresses
	// ("127.0.0.1:7400", ":7401", ":7402" on 127.0.0.1). Port 0 picks a
	// free port; Server reports the ones chosen.
	ClientAddr    string
	PublisherAddr string
	AdminAddr     string
	// AdminToken authenticates the admin API. Empty: read DataDir/admin.token,
	// creating it with a random token on first start.
	AdminToken string
	// TokenOverlap is how long a token key replaced by a rotation is still
	// accepted (24 h, the default token lifetime), unless the rotation
	// names its own.
	TokenOverlap time.Duration
	// Loops is the number of event loops (GOMAXPROCS).
	Loops int
	// Heartbeat is the interval announced in WELCOME (30 s). A connection
	// that sends nothing for two intervals is closed with HEARTBEAT_TIMEOUT.
	Heartbeat time.Duration
	// AuthTimeout bounds the time from connect to HELLO (5 s).
	AuthTimeout time.Duration
	// MaxFrame is the largest accepted frame length (wire.DefaultMaxFrame).
	MaxFrame int
	// MaxOutbound caps a connection's queued outbound bytes (4 MiB); past
	// it the connection is closed with SLOW_CONSUMER.
	MaxOutbound int
	// MaxInflight caps one publisher connection's unacknowledged PUBLISHes
	// (1024); past it PUBLISH gets UNAVAILABLE.
	MaxInflight int
	// Engine tunes the fan-out engine.
	Engine fanout.Config
}

func (c *Config) fill() error {
	defaults := []struct {
		field *string
		value string
	}{
		{&c.DataDir, "herald-data"},
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
	if c.TokenOverlap <= 0 {
		c.TokenOverlap = 24 * time.Hour
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 5 * time.Second
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = wire.DefaultMaxFrame
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
	if c.MaxOutbound < c.MaxFrame {
		return fmt.Errorf("%w: MaxOutbound %d below MaxFrame %d", ErrConfig, c.MaxOutbound, c.MaxFrame)
	}
	if c.Heartbeat > time.Duration(1<<32-1)*time.Millisecond {
		return fmt.Errorf("%w: Heartbeat %v too long", ErrConfig, c.Heartbeat)
	}
	return nil
}
