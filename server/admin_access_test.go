package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
)

// TestAccountReadsItsOwnFigures: an account's own credential (HTTP Basic:
// its id and secret) reads its account, followers and figures on the
// admin API, and nothing else: another account's are 403, the operator's
// endpoints and a wrong secret 401.
func TestAccountReadsItsOwnFigures(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	a, secretA := h.Account(1, 3)
	b, _ := h.Account(4, 5)
	get := func(path, user, password string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+h.Server.AdminAddr()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, password)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	own := fmt.Sprint(a)
	res, err := h.Publisher(a, secretA).Publish(context.Background(), client.Message{Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	msg := res.MessageID
	for _, tc := range []struct {
		path, user, password string
		want                 int
	}{
		{fmt.Sprintf("/v1/accounts/%d", a), own, secretA, http.StatusOK},
		{fmt.Sprintf("/v1/accounts/%d/followers", a), own, secretA, http.StatusOK},
		{fmt.Sprintf("/v1/accounts/%d/stats/followers", a), own, secretA, http.StatusOK},
		{fmt.Sprintf("/v1/accounts/%d/stats/followers", b), own, secretA, http.StatusForbidden},
		{fmt.Sprintf("/v1/accounts/%d", b), own, secretA, http.StatusForbidden},
		{fmt.Sprintf("/v1/accounts/%d/stats/followers", a), own, secretA + "x", http.StatusUnauthorized},
		{fmt.Sprintf("/v1/accounts/%d/stats/followers", a), "news", secretA, http.StatusUnauthorized},
		{"/v1/accounts", own, secretA, http.StatusUnauthorized},
		{fmt.Sprintf("/v1/accounts/%d/broadcasts", a), own, secretA, http.StatusOK},
		{fmt.Sprintf("/v1/accounts/%d/broadcasts/%d", a, msg), own, secretA, http.StatusOK},
		{fmt.Sprintf("/v1/accounts/%d/stats/broadcasts", a), own, secretA, http.StatusOK},
		{fmt.Sprintf("/v1/accounts/%d/broadcasts", b), own, secretA, http.StatusForbidden},
		{fmt.Sprintf("/v1/accounts/%d/broadcasts/%d", b, msg), own, secretA, http.StatusForbidden},
		{fmt.Sprintf("/v1/accounts/%d/stats/broadcasts", b), own, secretA, http.StatusForbidden},
		{fmt.Sprintf("/v1/accounts/%d/broadcasts", a), own, secretA + "x", http.StatusUnauthorized},
		{"/v1/stats/server", own, secretA, http.StatusUnauthorized},
		{fmt.Sprintf("/v1/accounts/%d/online", a), own, secretA, http.StatusOK},
		{fmt.Sprintf("/v1/accounts/%d/online", b), own, secretA, http.StatusForbidden},
	} {
		if got := get(tc.path, tc.user, tc.password); got != tc.want {
			t.Errorf("GET %s as %s: %d, want %d", tc.path, tc.user, got, tc.want)
		}
	}
}
