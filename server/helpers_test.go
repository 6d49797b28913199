package server_test

import (
	"herald/client"
	"herald/fanout"
)

func fanoutConfigWithMaxPayload(n int) fanout.Config { return fanout.Config{MaxPayload: n} }

func clientMessage(payload string) client.Message { return client.Message{Payload: []byte(payload)} }
