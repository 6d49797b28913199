package cluster

import (
	"reflect"
	"testing"

	"herald/engine"
)

// TestListsRoundTrip: the tag and account lists the admin API asks an edge
// for decode as the core encoded them, the shortest items included.
func TestListsRoundTrip(t *testing.T) {
	tags := []engine.Tag{{ID: 1, Name: "vip", Members: 3}, {ID: 2}}
	accounts := []engine.Account{{ID: 1, Name: "news", Tier: "verified", CreatedMillis: 9, Followers: 5000}, {ID: 2}}
	e := newEnc(0)
	encList(e, tags, encTag)
	encList(e, accounts, encAccount)
	d, err := newDec(e.b)
	if err != nil {
		t.Fatal(err)
	}
	gotTags, gotAccounts := decList(d, minTag, decTag), decList(d, minAccount, decAccount)
	if err := d.check("lists"); err != nil || !reflect.DeepEqual(gotTags, tags) || !reflect.DeepEqual(gotAccounts, accounts) {
		t.Fatalf("%v: %+v %+v", err, gotTags, gotAccounts)
	}
}
