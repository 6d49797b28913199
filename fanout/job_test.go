package fanout

import (
	"context"
	"testing"
	"time"

	"herald/engine"
	"herald/internal/testutil"
)

// failingSink is a connection whose writes fail.
type failingSink struct{}

func (failingSink) Deliver([][]byte, []uint64) bool { return false }

// TestJobReportCountsEachRecipientOnce: recipients 1..6; user 1 has devices
// on two loops, user 2 one device, user 3 only a failing one, user 4 one
// good and one failing device; 5 and 6 are offline; 9 is online but no
// follower.
func TestJobReportCountsEachRecipientOnce(t *testing.T) {
	e := newEngine(t)
	account := seedAccount(t, e, 1, 2, 3, 4, 5, 6)
	loopA, loopB := &syncLoop{}, &syncLoop{}
	a, b := e.hub.Register(loopA), e.hub.Register(loopB)
	_ = loopA.Execute(func() {
		a.add(1, &recordingSink{}, false)
		a.add(2, &recordingSink{}, false)
		a.add(4, failingSink{}, false)
		a.add(9, &recordingSink{}, false)
	})
	_ = loopB.Execute(func() {
		b.add(1, &recordingSink{}, false)
		b.add(3, failingSink{}, false)
		b.add(4, &recordingSink{}, false)
	})
	reports := make(chan JobReport, 1)
	res, err := publishWait(context.Background(), e, PublishRequest{Account: account, ClientMsgID: "j", OnJobDone: func(r JobReport) { reports <- r }})
	if err != nil {
		t.Fatal(err)
	}
	var r JobReport
	select {
	case r = <-reports:
	case <-time.After(5 * time.Second):
		t.Fatal("no job report")
	}
	want := JobReport{MessageID: res.MessageID, Total: 6, SentLive: 3, PendingOffline: 2, Errors: 1}
	if r != want {
		t.Fatalf("report %+v, want %+v", r, want)
	}
	// STATUS answers the same, from memory and then from the store.
	// (STATUS adds the reach: kept, nothing delivered yet.)
	withoutReach := func(r JobReport) JobReport {
		if !r.Reach.Kept || r.Reach.PublishedMillis == 0 || r.Reach.Delivered != 0 {
			t.Errorf("reach %+v", r.Reach)
		}
		r.Reach = engine.Reach{}
		return r
	}
	testutil.WaitFor(t, 5*time.Second, "status", func() bool {
		got, err := e.status(account, res.MessageID)
		return err == nil && withoutReach(got) == want
	})
	if err := e.jobs.unsaved.flush(); err != nil {
		t.Fatal(err)
	}
	if got, err := e.status(account, res.MessageID); err != nil || withoutReach(got) != want {
		t.Fatalf("status after saving = %+v, %v", got, err)
	}
	// A duplicate gets no report.
	if _, err := publishWait(context.Background(), e, PublishRequest{Account: account, ClientMsgID: "j", OnJobDone: func(JobReport) { t.Error("report for a duplicate") }}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.status(account+1, res.MessageID); err == nil {
		t.Fatal("status of another account's broadcast")
	}
	if _, err := e.status(account, 999); err == nil {
		t.Fatal("status of an unknown broadcast")
	}
}
