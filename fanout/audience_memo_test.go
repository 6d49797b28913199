package fanout

import (
	"context"
	"fmt"
	"testing"

	"herald/engine"
	"herald/wire"
)

// TestAudienceMemoFollowsEveryChange: publishing again to unchanged sets
// reuses the remembered audience; a follow, an unfollow, a block or a tag
// change in between is always seen.
func TestAudienceMemoFollowsEveryChange(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	users := make([]uint32, 0, 100_000)
	for u := range uint32(100_000) {
		users = append(users, 2*u+1)
	}
	account := seedAccount(t, e, users...)
	if _, err := engine.Call(ctx, e.Tag, TagRequest{Account: account, Op: TagCreate, Name: "vip"}); err != nil {
		t.Fatal(err)
	}
	for from := 0; from < 80_000; from += wire.MaxTagUsers {
		if _, err := engine.Call(ctx, e.Tag, TagRequest{Account: account, Op: TagAdd, Name: "vip", Users: users[from : from+wire.MaxTagUsers]}); err != nil {
			t.Fatal(err)
		}
	}
	vip, err := wire.ParseExpr("vip")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	publish := func(expr wire.Expr, want uint32) {
		t.Helper()
		n++
		r, err := publishWait(ctx, e, PublishRequest{Account: account, ClientMsgID: fmt.Sprint(n), Expr: expr})
		if err != nil || r.Recipients != want {
			t.Fatalf("publish %d: %d recipients, %v; want %d", n, r.Recipients, err, want)
		}
		got, err := e.store.Audience(r.MessageID)
		if err != nil || got.GetCardinality() != uint64(want) {
			t.Fatalf("publish %d: stored audience of %d, %v; want %d", n, got.GetCardinality(), err, want)
		}
	}
	membership := func(call func(engine.Membership, func(int, error)), users ...uint32) {
		t.Helper()
		if _, err := engine.Call(ctx, call, engine.Membership{Account: account, Users: users}); err != nil {
			t.Fatal(err)
		}
	}
	publish(nil, 100_000)
	publish(vip, 80_000)
	if _, n := e.memo.entries.Bytes(); n != 2 {
		t.Fatalf("%d audiences remembered, want 2", n)
	}
	hit, _ := e.memo.entries.Get(memoKey{account: account})
	publish(nil, 100_000)
	if again, _ := e.memo.entries.Get(memoKey{account: account}); again != hit {
		t.Fatal("unchanged sets resolved again")
	}
	membership(e.Follow, 2)
	publish(nil, 100_001)
	membership(e.Unfollow, 2, 3)
	publish(nil, 99_999)
	membership(e.Block, 5)
	publish(nil, 99_998)
	publish(vip, 79_998)
	if _, err := engine.Call(ctx, e.Tag, TagRequest{Account: account, Op: TagRemove, Name: "vip", Users: users[:10]}); err != nil {
		t.Fatal(err)
	}
	publish(vip, 79_990) // users[:10] hold 1, 3 and 5, already out
	publish(nil, 99_998)
}
