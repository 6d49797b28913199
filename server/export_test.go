package server

// TokenSigningKey is the key new client tokens are signed with (tests
// forge tokens with it).
func (s *Server) TokenSigningKey() []byte { return s.tokenKeys.signing() }
