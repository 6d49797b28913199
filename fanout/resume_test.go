package fanout

import (
	"context"
	"slices"
	"testing"

	"herald/engine"
	"herald/wire"
)

// TestGoingLiveAfterAScanMissesNothing: a broadcast delivered on the loop
// between a catch-up scan and going online makes LoopIndex.Add refuse, and
// the scan from the page's Last finds it; once online, the next broadcast
// arrives live.
func TestGoingLiveAfterAScanMissesNothing(t *testing.T) {
	e := newEngine(t)
	account := seedAccount(t, e, 5)
	loop := &syncLoop{}
	index := e.RegisterLoop(loop)
	ctx := context.Background()
	publish := func(id string) uint64 {
		t.Helper()
		done := make(chan JobReport, 1)
		res, err := publishWait(ctx, e, PublishRequest{Account: account, ClientMsgID: id, OnJobDone: func(r JobReport) { done <- r }})
		if err != nil {
			t.Fatal(err)
		}
		<-done // delivered on the loop
		return res.MessageID
	}
	first := publish("1")
	page, err := engine.Call(ctx, e.Resume, engine.ResumeRequest{User: 5})
	if err != nil || len(page.Frames) != 1 || page.Last.At(0) != first || page.More {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	second := publish("2") // after the scan, before going online
	sink := &recordingSink{}
	add := func(covered wire.Cursor) (ok bool) {
		_ = loop.Execute(func() { ok = index.Add(5, sink, false, covered, page.Epoch) })
		return ok
	}
	if add(page.Last) {
		t.Fatalf("went online at %v though broadcast %d was delivered after the scan", page.Last, second)
	}
	gap, err := engine.Call(ctx, e.Resume, engine.ResumeRequest{User: 5, Cursor: page.Last, Sent: page.Last})
	if err != nil || len(gap.Frames) != 1 || gap.Last.At(0) != second {
		t.Fatalf("the gap's page: %+v, %v", gap, err)
	}
	if !add(gap.Last) {
		t.Fatal("refused after the gap was scanned")
	}
	third := publish("3")
	if got := sink.got(); !slices.Equal(got, []uint64{third}) {
		t.Fatalf("live after going online: %v, want [%d]", got, third)
	}
}

// TestGoingLiveSendsRetractionsTheScanMissed: a broadcast retracted after
// the scan that found it is retracted for the connection too (its
// RETRACTED notice is written as it goes online); a scan that began after
// the retraction needs none.
func TestGoingLiveSendsRetractionsTheScanMissed(t *testing.T) {
	e := newEngine(t)
	account := seedAccount(t, e, 5, 6)
	loop := &syncLoop{}
	index := e.RegisterLoop(loop)
	ctx := context.Background()
	res, err := publishWait(ctx, e, PublishRequest{Account: account, ClientMsgID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := engine.Call(ctx, e.Resume, engine.ResumeRequest{User: 5})
	if err != nil || len(page.Frames) != 1 {
		t.Fatalf("page: %+v, %v", page, err)
	}
	if _, err := engine.Call(ctx, e.Retract, engine.MessageRef{Account: account, MessageID: res.MessageID}); err != nil {
		t.Fatal(err)
	}
	// A later op is answered only after the retraction was dispatched.
	if _, err := followWait(ctx, e, account, []uint32{7}); err != nil {
		t.Fatal(err)
	}
	late, err := engine.Call(ctx, e.Resume, engine.ResumeRequest{User: 6})
	if err != nil || len(late.Frames) != 0 {
		t.Fatalf("a scan after the retraction: %+v, %v", late, err)
	}
	missed, fresh := &recordingSink{}, &recordingSink{}
	_ = loop.Execute(func() {
		if !index.Add(5, missed, false, page.Last, page.Epoch) || !index.Add(6, fresh, false, late.Last, late.Epoch) {
			t.Error("Add refused with no broadcast after the scans")
		}
	})
	if got := missed.got(); !slices.Equal(got, []uint64{0}) {
		t.Fatalf("the connection whose scan preceded the retraction got %v, want one RETRACTED notice [0]", got)
	}
	if got := fresh.got(); len(got) != 0 {
		t.Fatalf("the connection whose scan followed the retraction got %v, want nothing", got)
	}
}
