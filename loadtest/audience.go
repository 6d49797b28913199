package loadtest

import (
	"context"
	"fmt"
	"time"

	"herald/client"
	"herald/wire"
)

// Audience mixes of the fanout scenario.
const (
	// AudienceAll: every follower.
	AudienceAll = "all"
	// AudienceTags: the expression "even AND NOT seventh" over two tags
	// (even user ids; multiples of 7), minus a blocklist (multiples of 11).
	AudienceTags = "tags"
	// AudienceList: 10,000 listed ids (multiples of 3 up to 30,000),
	// minus the same blocklist.
	AudienceList = "list"
	// AudienceCapped: every follower of an account of the service tier,
	// where the multiples of 5 have already had this month's ServiceCap
	// broadcasts (set-up broadcasts to a tag, which the clients ignore),
	// so the quota filters them out of every broadcast of the run.
	AudienceCapped = "capped"
)

// ServiceCap is the default service tier's broadcasts per follower per
// month, which the capped mix relies on; a run of that mix publishes at
// most this many, as each follower can receive no more.
const ServiceCap = 4

// audience is who a fanout run's broadcasts are for.
type audience struct {
	// wants reports whether user should receive the broadcasts.
	wants func(user uint32) bool
	// message fills in a Message's audience.
	message func(m *client.Message)
	// followers and clients count the wanted followers and connected
	// clients; filtered, the followers the quota removes.
	followers, clients, filtered int
	// month is when a capped audience's caps were filled (UTC, taken
	// just before): they hold only within that month.
	month time.Month
}

// newAudience says whom a mix's broadcasts are for. Connected users
// beyond cfg.Followers are not followers and are never in the audience.
func newAudience(cfg Config) audience {
	follows := func(u uint32) bool { return u <= uint32(cfg.Followers) }
	blocked := func(u uint32) bool { return u%11 == 0 }
	a := audience{message: func(*client.Message) {}}
	switch cfg.Audience {
	case AudienceTags:
		a.wants = func(u uint32) bool { return follows(u) && u%2 == 0 && u%7 != 0 && !blocked(u) }
		a.message = func(m *client.Message) { m.Tags = "even AND NOT seventh" }
	case AudienceList:
		var listed []uint32
		for u := uint32(3); len(listed) < wire.MaxListed; u += 3 {
			listed = append(listed, u)
		}
		last := listed[len(listed)-1]
		a.wants = func(u uint32) bool { return follows(u) && u%3 == 0 && u <= last && !blocked(u) }
		a.message = func(m *client.Message) { m.Users = listed }
	case AudienceCapped:
		a.wants = func(u uint32) bool { return follows(u) && u%5 != 0 }
		a.filtered = cfg.Followers / 5
		a.month = time.Now().UTC().Month()
	default:
		a.wants = follows
	}
	a.count(cfg)
	return a
}

// prepare sets up, for one account, the tags, blocklist or used-up quota
// the mix needs, over the publisher protocol.
func (a audience) prepare(ctx context.Context, cfg Config, pub *client.Publisher) error {
	switch cfg.Audience {
	case AudienceTags:
		if err := tagMultiples(ctx, cfg, pub, "even", 2); err != nil {
			return err
		}
		if err := tagMultiples(ctx, cfg, pub, "seventh", 7); err != nil {
			return err
		}
	case AudienceList:
	case AudienceCapped:
		if err := tagMultiples(ctx, cfg, pub, "fifth", 5); err != nil {
			return err
		}
		for i := range ServiceCap {
			// Shorter than a stamp: the clients do not record these.
			if _, err := pub.Publish(ctx, client.Message{Tags: "fifth", Payload: []byte("fill the cap")}); err != nil {
				return fmt.Errorf("loadtest: set-up broadcast %d to the capped users: %w", i+1, err)
			}
		}
		return nil
	default:
		return nil
	}
	var block []uint32
	for u := uint32(11); u <= uint32(cfg.Followers); u += 11 {
		block = append(block, u)
	}
	if err := pub.Block(ctx, block); err != nil {
		return fmt.Errorf("loadtest: block: %w", err)
	}
	return nil
}

// count counts the wanted followers and connected clients.
func (a *audience) count(cfg Config) {
	for u := uint32(1); u <= uint32(max(cfg.Followers, cfg.Clients)); u++ {
		if a.wants(u) {
			if u <= uint32(cfg.Followers) {
				a.followers++
			}
			if u <= uint32(cfg.Clients) {
				a.clients++
			}
		}
	}
}

// tagMultiples creates tag name with the followers that are multiples of
// of.
func tagMultiples(ctx context.Context, cfg Config, pub *client.Publisher, name string, of uint32) error {
	if _, err := pub.CreateTag(ctx, name); err != nil {
		return fmt.Errorf("loadtest: create tag %s: %w", name, err)
	}
	var members []uint32
	for u := of; u <= uint32(cfg.Followers); u += of {
		members = append(members, u)
	}
	if _, err := pub.TagUsers(ctx, name, members); err != nil {
		return fmt.Errorf("loadtest: tag %s: %w", name, err)
	}
	return nil
}
