package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testtier"
	"herald/internal/testutil"
	"herald/node"
	"herald/storage"
	"herald/wire"
)

// TestSendToAllWaitsForConfirmation: an account whose tier asks for
// confirmation has its broadcasts to all followers held: one an operator
// confirms is sent then, one rejected or left unconfirmed past its time
// fails with NOT_CONFIRMED and sends nothing; a narrower audience is not
// held.
func TestSendToAllWaitsForConfirmation(t *testing.T) {
	tiers := testtier.Tiers()
	tiers[storage.Tier(201)] = fanout.TierPolicy{Name: "careful", ID: 201, ConfirmAllSeconds: 1}
	h := testserver.Start(t, "", node.Config{Engine: fanout.Config{Tiers: tiers}})
	account, secret := h.AccountOfTier("careful", 1, 3)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	one := h.Subscribe(1, 0)

	began := time.Now()
	_, err := pub.Publish(ctx, client.Message{ClientMsgID: "all-1", Payload: []byte("to everyone")})
	wantCode(t, "unconfirmed", err, wire.CodeNotConfirmed)
	if waited := time.Since(began); waited < time.Second {
		t.Fatalf("failed after %v, before its second", waited)
	}

	publish := func(id string) <-chan error {
		done := make(chan error, 1)
		go func() {
			res, err := pub.Publish(ctx, client.Message{ClientMsgID: id, Payload: []byte(id)})
			if err == nil && res.MessageID == 0 {
				t.Errorf("%s: %+v", id, res)
			}
			done <- err
		}()
		testutil.WaitFor(t, 5*time.Second, id+" waiting", func() bool {
			list, err := h.Admin.Confirmations(ctx, account)
			return err == nil && len(list) == 1 && list[0].ClientMsgID == id
		})
		return done
	}
	confirmed := publish("all-2")
	if err := h.Admin.Confirm(ctx, account, "all-2", true); err != nil {
		t.Fatal(err)
	}
	if err := <-confirmed; err != nil {
		t.Fatalf("confirmed broadcast: %v", err)
	}
	if m := testserver.Receive(t, one, 5*time.Second); string(m.Payload) != "all-2" {
		t.Fatalf("got %+v", m)
	}
	rejected := publish("all-3")
	if err := h.Admin.Confirm(ctx, account, "all-3", false); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "rejected", <-rejected, wire.CodeNotConfirmed)
	var e *client.AdminError
	if err := h.Admin.Confirm(ctx, account, "all-3", true); !errors.As(err, &e) || e.Status != http.StatusNotFound {
		t.Fatalf("confirm of nothing waiting: %v", err)
	}
	if _, err := pub.Publish(ctx, client.Message{Users: []uint32{1}, Payload: []byte("listed")}); err != nil {
		t.Fatalf("a listed audience: %v", err)
	}
	if m := testserver.Receive(t, one, 5*time.Second); string(m.Payload) != "listed" {
		t.Fatalf("got %+v", m)
	}
	testserver.ExpectNone(t, one)
}
