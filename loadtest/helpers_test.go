package loadtest

import "herald/client"

func clientMessage(payload string) client.Message {
	return client.Message{Payload: []byte(payload)}
}
