package wire

import "testing"

// TestReachAndOpenedRoundTrip: REACH and OPENED decode to what was
// encoded, STATUS carries its flags, and short or long bodies fail.
func TestReachAndOpenedRoundTrip(t *testing.T) {
	m := Reach{RequestID: 7, MessageID: 1 << 40, PublishedMillis: 1796214103788, Total: 10, Filtered: 1, NotSelected: 2, Blocked: 3,
		SentLive: 4, Errors: 1, Delivered: 6, CaughtUp: 2, Opened: 1, Curve: [CurvePoints]uint32{1, 2, 3, 5, 6}}
	frame := AppendReach([]byte("x"), m, FlagRetracted|FlagPreview)[1:]
	if frame[5] != FlagRetracted|FlagPreview || len(frame) != HeaderSize+reachSize {
		t.Fatalf("frame % x", frame)
	}
	got, err := DecodeReach(frame[HeaderSize:])
	if err != nil || got != m {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	if _, err := DecodeReach(frame[HeaderSize : len(frame)-1]); err == nil {
		t.Fatal("a short REACH decoded")
	}
	id, err := DecodeOpened(AppendOpened(nil, 99)[HeaderSize:])
	if err != nil || id != 99 {
		t.Fatalf("OPENED %d, %v", id, err)
	}
	if _, err := DecodeOpened([]byte{1, 2, 3}); err == nil {
		t.Fatal("a short OPENED decoded")
	}
	st := AppendStatusFlags([]byte("prefix"), Status{RequestID: 1, Account: 2, MessageID: 3}, FlagReach|FlagWatch)
	if st[len("prefix")+5] != FlagReach|FlagWatch || CheckFlags(TypeStatus, FlagReach|FlagUnwatch) != nil || CheckFlags(TypeStatus, 1<<3) == nil {
		t.Fatal("STATUS flags")
	}
}
