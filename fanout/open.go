package fanout

import (
	"path/filepath"

	"herald/storage"
)

// Open takes the data directory cfg.DataDir (private, locked; created if
// missing), opens the store in it and its token keys, and starts the
// engine, which owns them: Close closes them. On failure nothing stays
// open, and a data directory this call created is removed.
func Open(cfg Config) (_ *Engine, err error) {
	cfg.fill()
	var dir *dataDir
	dbPath, keysPath := cfg.DataDir, ""
	if !cfg.InMemory {
		if dir, err = openDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
		dbPath, keysPath = dir.path, filepath.Join(dir.path, tokenKeysName)
	}
	var store *storage.Store
	defer func() {
		if err != nil {
			if store != nil {
				_ = store.Close()
			}
			if dir != nil {
				dir.discard()
			}
		}
	}()
	if store, err = storage.Open(dbPath, storage.Options{InMemory: cfg.InMemory, Logger: cfg.Logger,
		DiskReserve: cfg.DiskReserve, DiskUsage: cfg.DiskUsage, Shard: cfg.Shard}); err != nil {
		return nil, err
	}
	legacy, err := store.LegacyTokenSecret()
	if err != nil {
		return nil, err
	}
	keys, err := loadTokenKeys(keysPath, legacy)
	if err != nil {
		return nil, err
	}
	if legacy != nil {
		// The key is in token.keys now (or was already, if an earlier
		// start stopped before this): the database need not hold it.
		if err := store.DropLegacyTokenSecret(); err != nil {
			return nil, err
		}
	}
	e := start(store, keys, cfg)
	e.dir, e.owned = dir, true
	return e, nil
}

// Discard closes an engine Open returned from a start that failed later
// (the edge could not listen): like Close, and a data directory Open
// created is removed too.
func (e *Engine) Discard() {
	_ = e.Close()
	if e.dir != nil {
		e.dir.discard()
	}
}
