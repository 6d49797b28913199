package fanout

import (
	"strings"
	"testing"
	"time"

	"herald/storage"
)

func TestParseTiers(t *testing.T) {
	tiers, err := ParseTiers(strings.NewReader(`{"tiers": [
		{"name": "subscription", "daily": 3},
		{"name": "service", "per_follower_monthly": 8},
		{"name": "partner", "id": 16, "daily": 10, "per_follower_monthly": 2}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := tiers[storage.TierSubscription]; p.Daily != 3 || p.Name != "subscription" {
		t.Errorf("subscription = %+v", p)
	}
	if p := tiers[storage.TierVerified]; p.Daily != 2 {
		t.Errorf("verified keeps its default, got %+v", p)
	}
	if p := tiers[storage.TierService]; p.PerFollowerMonthly != 8 {
		t.Errorf("service = %+v", p)
	}
	if p := tiers[16]; p.Name != "partner" || p.Daily != 10 || p.PerFollowerMonthly != 2 {
		t.Errorf("partner = %+v", p)
	}
	for _, bad := range []string{
		`{"tiers": [{"name": "gold", "daily": 1}]}`,                   // a custom tier needs an id
		`{"tiers": [{"name": "gold", "id": 2}]}`,                      // 1-3 are built in
		`{"tiers": [{"name": "verified", "id": 7}]}`,                  // a built-in keeps its id
		`{"tiers": [{"name": "a", "id": 9}, {"name": "b", "id": 9}]}`, // one id, two tiers
		`{"tiers": [{"name": "a", "id": 9}, {"name": "a", "id": 10}]}`,
		`{"tiers": [{"name": "a", "id": 9, "daily": -1}]}`,
		`{"tiers": [{"name": "a", "id": 9, "per_follower_monthly": 32}]}`,
		`{"tiers": [{"name": "a", "id": 300}]}`,
		`{"tiers": [{"name": "a", "id": 9, "weekly": 1}]}`,
		`not json`,
	} {
		if _, err := ParseTiers(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestMonths(t *testing.T) {
	for _, c := range []struct {
		at    time.Time
		month uint32
	}{
		{time.Date(1970, 1, 31, 23, 59, 0, 0, time.UTC), 0},
		{time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC), 56*12 + 10},
		{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 56*12 + 11},
	} {
		if got := monthOf(uint64(c.at.UnixMilli())); got != c.month {
			t.Errorf("monthOf(%v) = %d, want %d", c.at, got, c.month)
		}
	}
}
