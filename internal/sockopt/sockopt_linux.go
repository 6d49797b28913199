// Package sockopt holds the socket options Herald's clients set.
package sockopt

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// BindNoPort asks Linux to pick a connection's source port at connect
// time rather than at bind time, so that connections from a chosen source
// address (client.SubscriberConfig.LocalAddr, the benchmarks' clients) share ports across destinations
// like unbound ones do, instead of exhausting the bind-time range.
func BindNoPort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
