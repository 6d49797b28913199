package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	jssdk "herald/client/js"
	"herald/engine"
)

// importBatch is how many follows of an import share one commit. Large
// batches are what make imports of ids spread over the whole 32-bit space
// fast: each commit rewrites every chunk its ids touch, so with 65,536 ids
// a batch a 10M-id sparse import rewrote each of its 65,536 chunks about
// 150 times (724k follows/s for 4M ids), with 2^20 about 10 times (1.9M/s).
// The writer holds such a batch for about half a second.
const importBatch = 1 << 20

// maxTokenTTL bounds the lifetime of a minted client token.
const maxTokenTTL = 366 * 24 * time.Hour

func (s *Server) startAdmin() error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("POST /v1/accounts", s.authorized(s.createAccount))
	mux.HandleFunc("GET /v1/accounts/{id}", s.accountReader(s.getAccount))
	mux.HandleFunc("GET /v1/accounts", s.authorized(s.listAccounts))
	mux.HandleFunc("POST /v1/accounts/{id}/followers", s.authorized(s.changeFollowers(true)))
	mux.HandleFunc("POST /v1/accounts/{id}/followers/remove", s.authorized(s.changeFollowers(false)))
	mux.HandleFunc("GET /v1/accounts/{id}/followers", s.accountReader(s.listFollowers))
	mux.HandleFunc("GET /v1/accounts/{id}/stats/followers", s.accountReader(s.followerStats))
	mux.HandleFunc("GET /v1/accounts/{id}/stats/broadcasts", s.accountReader(s.broadcastStats))
	mux.HandleFunc("GET /v1/accounts/{id}/broadcasts", s.accountReader(s.listBroadcasts))
	mux.HandleFunc("GET /v1/accounts/{id}/broadcasts/{msg}", s.accountReader(s.getBroadcast))
	mux.HandleFunc("GET /v1/stats/server", s.authorized(s.serverStats))
	mux.HandleFunc("GET /v1/accounts/{id}/online", s.accountReader(s.online))
	mux.HandleFunc("GET /v1/accounts/{id}/schedules", s.accountReader(s.listSchedules))
	mux.HandleFunc("GET /v1/accounts/{id}/confirmations", s.authorized(s.listConfirmations))
	mux.HandleFunc("POST /v1/accounts/{id}/confirmations/{msg}", s.authorized(s.confirm))
	mux.HandleFunc("POST /v1/tokens", s.authorized(s.mintToken))
	mux.HandleFunc("POST /v1/token-keys/rotate", s.authorized(s.rotateTokenKey))
	s.observability(mux)
	mux.Handle("GET /demo/", jssdk.Handler("/demo/", s.demoWebSocketURL))
	mux.HandleFunc("GET /dashboard/", s.dashboard)
	ln, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("server: admin listen: %w", err)
	}
	s.adminLn = ln
	s.allowDemoOrigins(ln.Addr().String())
	s.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.admin.Serve(ln) }()
	return nil
}

// apiError is the body of every admin error response.
type apiError struct {
	Error string `json:"error"`
	// Added (Removed) is set by an import (a removal) that failed part-way:
	// that many changes before the failing line were committed.
	Added   *int `json:"added,omitempty"`
	Removed *int `json:"removed,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, apiError{Error: fmt.Sprintf(format, args...)})
}

// engineStatus maps an engine error to an HTTP status.
func engineStatus(err error) int {
	switch {
	case errors.Is(err, engine.ErrUnknownAccount), errors.Is(err, engine.ErrUnknownMessage):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, engine.ErrClosed), errors.Is(err, engine.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, engine.ErrStorageFull):
		return http.StatusInsufficientStorage
	default:
		return http.StatusInternalServerError
	}
}

func (s *Server) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.adminToken)) != 1 {
			writeError(w, http.StatusUnauthorized, "missing or wrong admin token (Authorization: Bearer <token>)")
			return
		}
		next(w, r)
	}
}

// accountReader lets in the operator (the admin token) or the account the
// path names, by its own credential: HTTP Basic with the account id as the
// user and its publisher secret as the password. Another account's
// credential is 403.
func (s *Server) accountReader(next http.HandlerFunc) http.HandlerFunc {
	operator := s.authorized(next)
	return func(w http.ResponseWriter, r *http.Request) {
		user, secret, basic := r.BasicAuth()
		if !basic {
			operator(w, r)
			return
		}
		account, err := strconv.ParseUint(user, 10, 32)
		if err != nil {
			writeError(w, http.StatusUnauthorized, "Basic credentials are an account id and its secret")
			return
		}
		if _, err := engine.Call(r.Context(), s.engine.Authenticate, engine.Credentials{Account: uint32(account), Secret: secret}); err != nil {
			if errors.Is(err, engine.ErrAuth) {
				writeError(w, http.StatusUnauthorized, "wrong account id or secret")
				return
			}
			writeError(w, engineStatus(err), "%v", err)
			return
		}
		if r.PathValue("id") != strconv.FormatUint(account, 10) {
			writeError(w, http.StatusForbidden, "account %d's credential reads only account %d", account, account)
			return
		}
		next(w, r)
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	h := s.engine.Health()
	status, storageErr := "ok", ""
	if h.StorageError != nil {
		status, storageErr = "degraded", h.StorageError.Error()
	}
	out := map[string]any{
		"status":              status,
		"storage_error":       storageErr,
		"disk_free_bytes":     h.DiskFree,
		"disk_reserve_bytes":  h.DiskReserve,
		"connections":         s.metrics.connectionsTotal(),
		"publishes":           s.metrics.publishes.Load(),
		"deliveries":          h.Delivered,
		"caught_up":           s.metrics.caughtUp.Load(),
		"slow_consumers":      s.metrics.slowConsumers.Load(),
		"closed_with_error":   s.metrics.closedWithError.Load(),
		"last_message_id":     h.LastMessageID,
		"cursor":              h.Newest.String(),
		"partial_frame_bytes": s.partialBytes.Load(),
	}
	if b := h.Bus; b != nil {
		out["bus"] = map[string]any{
			"connected":            b.Connected,
			"core_silence_seconds": b.CoreSilence.Seconds(),
			"lag_messages":         b.Lag,
			"refused":              b.Refused,
			"recovered":            b.Recovered,
			"lost":                 b.Lost,
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// AccountInfo is the admin API's view of an account.
type AccountInfo struct {
	ID        uint32 `json:"id"`
	Name      string `json:"name"`
	Tier      string `json:"tier"`
	Followers uint64 `json:"followers"`
	// Secret is returned once, by account creation.
	Secret string `json:"secret,omitempty"`
}

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
		Tier string `json:"tier"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON {\"name\": ..., \"tier\": ...}: %v", err)
		return
	}
	a, err := engine.Call(r.Context(), s.engine.CreateAccount, engine.NewAccount{Name: req.Name, Tier: req.Tier})
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, accountInfo(a))
}

// accountInfo is the admin API's view of an engine account.
func accountInfo(a engine.Account) AccountInfo {
	return AccountInfo{ID: a.ID, Name: a.Name, Tier: a.Tier, Followers: a.Followers, Secret: a.Secret}
}

// accountID parses the {id} path segment.
func accountID(r *http.Request) (uint32, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("account id %q is not a number from 1 to 4294967295", r.PathValue("id"))
	}
	return uint32(id), nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	if a, ok := s.existingAccount(w, r); ok {
		writeJSON(w, http.StatusOK, accountInfo(a))
	}
}

func (s *Server) mintToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User *uint32 `json:"user"`
		TTL  string  `json:"ttl"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.User == nil {
		writeError(w, http.StatusBadRequest, "body must be JSON {\"user\": <id>, \"ttl\": \"24h\"}")
		return
	}
	ttl := 24 * time.Hour
	if req.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl <= 0 || ttl > maxTokenTTL {
			writeError(w, http.StatusBadRequest, "ttl %q must be a positive duration up to %v", req.TTL, maxTokenTTL)
			return
		}
	}
	expiry := time.Now().Add(ttl)
	token, err := s.engine.MintToken(*req.User, expiry)
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user":    *req.User,
		"token":   token,
		"expires": expiry.UTC().Format(time.RFC3339),
	})
}

// rotateTokenKey makes a new key for signing client tokens; the replaced
// one keeps verifying tokens for the overlap.
func (s *Server) rotateTokenKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Overlap string `json:"overlap"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "body must be empty or JSON {\"overlap\": \"24h\"}")
		return
	}
	overlap := time.Duration(-1) // the engine's default
	if req.Overlap != "" {
		var err error
		if overlap, err = time.ParseDuration(req.Overlap); err != nil || overlap < 0 || overlap > maxTokenTTL {
			writeError(w, http.StatusBadRequest, "overlap %q must be a duration from 0 to %v", req.Overlap, maxTokenTTL)
			return
		}
	}
	retires, err := engine.Call(r.Context(), s.engine.RotateTokenKey, overlap)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"rotated":                 true,
		"previous_accepted_until": retires.Format(time.RFC3339),
	})
}
