package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"herald/client"
	"herald/internal/testserver"
	"herald/internal/testtier"
	"herald/node"
)

// BenchmarkBroadcastsPage10M is the admin API's broadcasts page of an
// account with 10,000,000 followers and 50 broadcasts to all of them, on
// an on-disk store: one op is GET /v1/accounts/{id}/broadcasts?limit=50
// over HTTP (each broadcast with its report and reach), then one
// broadcast's GET. Setup (the import and the publishes) is not timed.
func BenchmarkBroadcastsPage10M(b *testing.B) {
	h := testserver.Start(b, "", node.Config{})
	ctx := context.Background()
	account, err := h.Admin.CreateAccount(ctx, "big", testtier.Unlimited.Name)
	if err != nil {
		b.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 0, 1<<20)
		for u := 1; u <= 10_000_000; u++ {
			buf = fmt.Appendf(buf, "%d\n", u)
			if len(buf) > 1<<20-16 {
				pw.Write(buf)
				buf = buf[:0]
			}
		}
		pw.Write(buf)
		pw.Close()
	}()
	if res, err := h.Admin.ImportFollowers(ctx, account.ID, pr); err != nil || res.Followers != 10_000_000 {
		b.Fatalf("import: %+v, %v", res, err)
	}
	pub := h.Publisher(account.ID, account.Secret)
	var last uint64
	for i := range 50 {
		res, err := pub.Publish(ctx, client.Message{Payload: fmt.Appendf(nil, "broadcast %d", i)})
		if err != nil {
			b.Fatal(err)
		}
		last = res.MessageID
	}
	page := fmt.Sprintf("http://%s/v1/accounts/%d/broadcasts?limit=50", h.Server.AdminAddr(), account.ID)
	one := fmt.Sprintf("http://%s/v1/accounts/%d/broadcasts/%d", h.Server.AdminAddr(), account.ID, last)
	get := func(url string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+h.Server.AdminToken())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", url, res.StatusCode)
		}
	}
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			get(page)
		}
	})
	b.Run("one", func(b *testing.B) {
		for b.Loop() {
			get(one)
		}
	})
}
