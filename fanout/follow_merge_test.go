package fanout

import (
	"context"
	"testing"
)

// TestMergedFollowsKeepCountsAndOrder drives one group through the writer's
// commit directly (the writer goroutine is idle): adjacent follows of one
// account merge, each op keeps its own count, and an unfollow after a
// publish stays after it.
func TestMergedFollowsKeepCountsAndOrder(t *testing.T) {
	e := newEngine(t)
	account := seedAccount(t, e)
	counts := make([]int, 4)
	errs := make([]error, 4)
	follow := func(i int, add bool, users ...uint32) *followOp {
		return &followOp{account: account, users: users, add: add, reply: func(n int, err error) { counts[i], errs[i] = n, err }}
	}
	var published PublishResult
	pub := &publishOp{req: PublishRequest{Account: account, ClientMsgID: "between"}, reply: func(r PublishResult, err error) { published = r }}
	pub.prepare(e)
	group := []op{
		follow(0, true, 1, 2, 3),
		follow(1, true, 3, 4), // 3 was just followed by op 0
		follow(2, true, 1),    // all already followed
		pub,                   // sees 1, 2, 3, 4? prepared before: sees none
		follow(3, false, 4),
	}
	if merged := mergeFollows(append([]op(nil), group...)); len(merged) != 3 {
		t.Fatalf("merged into %d ops, want 3", len(merged))
	}
	e.commitGroup(group)
	for i, want := range []int{3, 1, 0, 1} {
		if errs[i] != nil || counts[i] != want {
			t.Fatalf("op %d: changed %d, %v; want %d", i, counts[i], errs[i], want)
		}
	}
	if published.MessageID == 0 {
		t.Fatal("the publish between the runs did not commit")
	}
	followers, err := e.store.Followers(account)
	if err != nil || followers.GetCardinality() != 3 || followers.Contains(4) {
		t.Fatalf("followers = %v, %v; want 1, 2, 3", followers, err)
	}
	if n, _ := e.store.FollowerCount(account); n != 3 {
		t.Fatalf("count = %d", n)
	}
	if _, err := followWait(context.Background(), e, account, []uint32{9}); err != nil {
		t.Fatal(err)
	}
}
