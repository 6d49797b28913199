// Package testtier is the account tier without quotas that the servers of
// tests, load tests and benchmarks add to the configured tiers, so that
// their accounts publish as often as they need.
package testtier

import (
	"herald/fanout"
	"herald/storage"
)

// Unlimited is a tier without quotas.
var Unlimited = fanout.TierPolicy{Name: "unlimited", ID: 250}

// Tiers are the default tiers plus Unlimited.
func Tiers() map[storage.Tier]fanout.TierPolicy {
	tiers := fanout.DefaultTiers()
	tiers[Unlimited.ID] = Unlimited
	return tiers
}
