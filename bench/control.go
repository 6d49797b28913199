package bench

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// dialControl opens the floor's trigger connection and waits until the
// floor has accepted all the clients, so that no burst misses one.
func dialControl(addr string, clients int) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("floor control: %w", err)
	}
	var n [4]byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.Write(make([]byte, 4)); err != nil {
			c.Close()
			return nil, err
		}
		if _, err := io.ReadFull(c, n[:]); err != nil {
			c.Close()
			return nil, err
		}
		if int(binary.BigEndian.Uint32(n[:])) >= clients {
			return c, nil
		}
		if time.Now().After(deadline) {
			c.Close()
			return nil, fmt.Errorf("floor accepted %d of %d clients within 30s", binary.BigEndian.Uint32(n[:]), clients)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
