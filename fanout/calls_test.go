package fanout

import (
	"context"

	"herald/engine"
	"herald/storage"
)

// Blocking forms of the engine's calls, for tests.

func publishWait(ctx context.Context, e *Engine, req PublishRequest) (PublishResult, error) {
	return engine.Call(ctx, e.Publish, req)
}

func followWait(ctx context.Context, e *Engine, account uint32, users []uint32) (int, error) {
	return engine.Call(ctx, e.Follow, engine.Membership{Account: account, Users: users})
}

func createAccount(ctx context.Context, e *Engine, name string, tier storage.Tier) (engine.Account, string, error) {
	a, err := engine.Call(ctx, e.CreateAccount, engine.NewAccount{Name: name, Tier: e.TierName(tier)})
	return a, a.Secret, err
}
