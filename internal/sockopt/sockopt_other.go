//go:build !linux

package sockopt

import "syscall"

// BindNoPort is Linux-only; elsewhere the source port is chosen at bind
// time.
func BindNoPort(_, _ string, _ syscall.RawConn) error { return nil }
