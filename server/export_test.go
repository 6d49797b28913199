package server

// TokenSigningKey is the key new client tokens are signed with (tests
// forge tokens with it).
func (s *Server) TokenSigningKey() []byte { return s.tokenKeys.signing() }

// WithDiskUsage makes a server started with cfg read its filesystem's free
// and total bytes from usage instead of statfs.
func WithDiskUsage(cfg *Config, usage func() (avail, total uint64, err error)) { cfg.diskUsage = usage }
