package loadtest

import (
	"context"
	"fmt"

	"herald/client"
	"herald/server/wire"
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
)

// audience is who a fanout run's broadcasts are for.
type audience struct {
	// wants reports whether user should receive the broadcasts.
	wants func(user uint32) bool
	// message fills in a Message's audience.
	message func(m *client.Message)
	// followers and clients count the wanted followers and connected
	// clients.
	followers, clients int
}

// prepareAudience sets up the tags and blocklist a mix needs, over the
// publisher protocol, and says whom to expect.
func prepareAudience(ctx context.Context, cfg Config, pub *client.Publisher) (audience, error) {
	blocked := func(u uint32) bool { return u%11 == 0 }
	var a audience
	switch cfg.Audience {
	case AudienceTags:
		a.wants = func(u uint32) bool { return u%2 == 0 && u%7 != 0 && !blocked(u) }
		a.message = func(m *client.Message) { m.Tags = "even AND NOT seventh" }
		for _, tag := range []struct {
			name string
			of   uint32
		}{{"even", 2}, {"seventh", 7}} {
			if _, err := pub.CreateTag(ctx, tag.name); err != nil {
				return a, fmt.Errorf("loadtest: create tag %s: %w", tag.name, err)
			}
			var members []uint32
			for u := tag.of; u <= uint32(cfg.Followers); u += tag.of {
				members = append(members, u)
			}
			if _, err := pub.TagUsers(ctx, tag.name, members); err != nil {
				return a, fmt.Errorf("loadtest: tag %s: %w", tag.name, err)
			}
		}
	case AudienceList:
		var listed []uint32
		for u := uint32(3); len(listed) < wire.MaxListed; u += 3 {
			listed = append(listed, u)
		}
		last := listed[len(listed)-1]
		a.wants = func(u uint32) bool { return u%3 == 0 && u <= last && !blocked(u) }
		a.message = func(m *client.Message) { m.Users = listed }
	default:
		a.wants = func(uint32) bool { return true }
		a.message = func(*client.Message) {}
		a.followers, a.clients = cfg.Followers, cfg.Clients
		return a, nil
	}
	var block []uint32
	for u := uint32(11); u <= uint32(cfg.Followers); u += 11 {
		block = append(block, u)
	}
	if err := pub.Block(ctx, block); err != nil {
		return a, fmt.Errorf("loadtest: block: %w", err)
	}
	for u := uint32(1); u <= uint32(cfg.Followers); u++ {
		if a.wants(u) {
			a.followers++
			if u <= uint32(cfg.Clients) {
				a.clients++
			}
		}
	}
	return a, nil
}
