//go:build !linux

package client

import "syscall"

// bindNoPort is Linux-only; elsewhere the source port is chosen at bind
// time.
func bindNoPort(_, _ string, _ syscall.RawConn) error { return nil }
