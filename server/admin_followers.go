package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"herald/engine"
	"herald/wire"
)

// changeFollowers returns the handler that streams a body of user ids, one
// per line (blank lines and lines starting with # are skipped), making
// them followers of the account (add) or not (remove), committing every
// importBatch ids. The body may be zstd-compressed (Content-Encoding:
// zstd).
func (s *Server) changeFollowers(add bool) http.HandlerFunc {
	verb, done := "removed", "removed"
	if add {
		verb, done = "added", "imported"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := s.existingAccount(w, r)
		if !ok {
			return
		}
		account := a.ID
		// A follow's source is counted in the account's daily figures:
		// ?source=CODE, "import" when not given.
		source := "import"
		if q := r.URL.Query(); q.Has("source") {
			source = q.Get("source")
		}
		if !add {
			source = ""
		} else if err := wire.ValidSource(source); err != nil {
			writeError(w, http.StatusBadRequest, "source: %v", err)
			return
		}
		changed, began := 0, time.Now()
		fail := func(status int, format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			s.cfg.Logger.Warn("follower change failed", "account", account, verb, changed, "error", msg, "ms", time.Since(began).Milliseconds())
			e := apiError{Error: msg}
			if add {
				e.Added = &changed
			} else {
				e.Removed = &changed
			}
			writeJSON(w, status, e)
		}
		change := s.engine.Unfollow
		if add {
			change = s.engine.Follow
		}
		commit := func(ctx context.Context, ids []uint32) error {
			n, err := engine.Call(ctx, change, engine.Membership{Account: account, Users: ids, Source: source})
			changed += n
			return err
		}
		body, release, err := importBody(r)
		if errors.Is(err, errEncoding) {
			writeError(w, http.StatusUnsupportedMediaType, "%v", err)
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		defer release()
		batch := make([]uint32, 0, importBatch)
		scanner := bufio.NewScanner(body)
		for line := 1; scanner.Scan(); line++ {
			text := strings.TrimSpace(scanner.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			user, err := strconv.ParseUint(text, 10, 32)
			if err != nil {
				if cerr := commit(r.Context(), batch); cerr != nil {
					fail(engineStatus(cerr), "%v", cerr)
					return
				}
				fail(http.StatusBadRequest, "line %d: %q is not a user id (0 to 4294967295); the ids before it were %s", line, text, done)
				return
			}
			batch = append(batch, uint32(user))
			if len(batch) == importBatch {
				if err := commit(r.Context(), batch); err != nil {
					fail(engineStatus(err), "%v", err)
					return
				}
				batch = make([]uint32, 0, importBatch)
			}
		}
		if err := scanner.Err(); err != nil {
			// Commit what arrived whole: a bad tail loses nothing before it.
			if cerr := commit(r.Context(), batch); cerr != nil {
				fail(engineStatus(cerr), "%v", cerr)
				return
			}
			fail(http.StatusBadRequest, "reading body: %v; the ids before the error were %s", err, done)
			return
		}
		if err := commit(r.Context(), batch); err != nil {
			fail(engineStatus(err), "%v", err)
			return
		}
		var total uint64
		if a, err := engine.Call(r.Context(), s.engine.Account, account); err == nil {
			total = a.Followers
		}
		s.cfg.Logger.Info("followers "+verb, "account", account, verb, changed, "followers", total,
			"compressed", r.Header.Get("Content-Encoding") != "", "ms", time.Since(began).Milliseconds())
		writeJSON(w, http.StatusOK, map[string]any{verb: changed, "followers": total})
	}
}

// listFollowers answers a page of the account's followers in id order:
// ?after=U (default: from the first) &limit=N (default 100, at most
// 10,000), with the count of all of them.
func (s *Server) listFollowers(w http.ResponseWriter, r *http.Request) {
	a, ok := s.existingAccount(w, r)
	if !ok {
		return
	}
	account := a.ID
	from, limit, ok := pageParams(w, r, 100, 10000)
	if !ok {
		return
	}
	page, err := engine.Call(r.Context(), s.engine.Followers, engine.FollowersRequest{Account: account, PageRequest: engine.PageRequest{From: from, Limit: limit + 1}})
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	ids, total := page.IDs, page.Total
	out := map[string]any{"account": account, "followers": total}
	if len(ids) > limit {
		ids = ids[:limit]
		out["next_after"] = ids[limit-1]
	}
	if ids == nil {
		ids = []uint32{}
	}
	out["ids"] = ids
	writeJSON(w, http.StatusOK, out)
}

// listAccounts answers a page of accounts in id order: ?after=ID&limit=N
// (default 100, at most 1,000), each with its follower count.
func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) {
	from, limit, ok := pageParams(w, r, 100, 1000)
	if !ok {
		return
	}
	if from == 0 {
		from = 1
	}
	accounts, err := engine.Call(r.Context(), s.engine.Accounts, engine.PageRequest{From: from, Limit: limit + 1})
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return
	}
	out := map[string]any{}
	if len(accounts) > limit {
		accounts = accounts[:limit]
		out["next_after"] = accounts[limit-1].ID
	}
	list := make([]AccountInfo, len(accounts))
	for i, a := range accounts {
		list[i] = accountInfo(a)
	}
	out["accounts"] = list
	writeJSON(w, http.StatusOK, out)
}

// pageParams reads ?after and ?limit: the page starts after after (at its
// successor) and holds at most limit (def when absent, at most most).
func pageParams(w http.ResponseWriter, r *http.Request, def, most int) (from uint32, limit int, ok bool) {
	limit = def
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > most {
			writeError(w, http.StatusBadRequest, "limit %q must be a number from 1 to %d", v, most)
			return 0, 0, false
		}
		limit = n
	}
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 1<<32-1 {
			writeError(w, http.StatusBadRequest, "after %q must be a number from 0 to 4294967294", v)
			return 0, 0, false
		}
		from = uint32(n) + 1
	}
	return from, limit, true
}

// existingAccount reads the account the {id} path segment names,
// answering the error itself when there is none.
func (s *Server) existingAccount(w http.ResponseWriter, r *http.Request) (engine.Account, bool) {
	id, err := accountID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return engine.Account{}, false
	}
	a, err := engine.Call(r.Context(), s.engine.Account, id)
	if errors.Is(err, engine.ErrUnknownAccount) {
		writeError(w, http.StatusNotFound, "account %d does not exist", id)
		return engine.Account{}, false
	}
	if err != nil {
		writeError(w, engineStatus(err), "%v", err)
		return engine.Account{}, false
	}
	return a, true
}
