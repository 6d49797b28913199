package server_test

import "herald/fanout"

func fanoutConfigWithMaxPayload(n int) fanout.Config { return fanout.Config{MaxPayload: n} }
