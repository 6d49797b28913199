package fanout

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/engine"
	"herald/storage"
	"herald/wire"
)

// Notifications (template messages) are broadcasts with a short listed
// audience: they take ids from the same log, so a user gets them in one
// order with broadcasts, live and on catch-up, with the same durability,
// idempotency and accounting. What differs is checked here: the template
// and its fields, the recipients' consents (spent in the publish's batch),
// and the tier's daily notification limit in place of the broadcast quota.

// validateNotification checks what a notification request must and must
// not carry, before its payload is encoded.
func validateNotification(req PublishRequest) error {
	n := req.Notification
	switch {
	case len(req.Users) == 0 || len(req.Users) > wire.MaxNotifyUsers:
		return fmt.Errorf("%w: a notification goes to 1 to %d users, not %d", ErrBadRequest, wire.MaxNotifyUsers, len(req.Users))
	case len(req.Preview) > 0 || len(req.Expr) > 0:
		return fmt.Errorf("%w: a notification goes to listed users, not to a preview or a tag expression", ErrBadRequest)
	case len(req.Payload) > 0 || req.ContentType != "":
		return fmt.Errorf("%w: a notification's payload is its fields; it carries no payload or content type of its own", ErrBadRequest)
	}
	if err := n.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}

// checkFields reports a notification field its template lacks.
func checkFields(account uint32, t storage.Template, n *wire.Notification) error {
	for _, f := range n.Fields {
		found := false
		for _, name := range t.Fields {
			found = found || name == f.Name
		}
		if !found {
			return fmt.Errorf("%w: template %q of account %d has no field %q (it has %s)", ErrUnknownTemplate, t.Name, account, f.Name, strings.Join(t.Fields, ", "))
		}
	}
	return nil
}

func unknownTemplate(account uint32, name string, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: account %d has no template %q", ErrUnknownTemplate, account, name)
	}
	return err
}

// resolveNotification is a notification's audience from committed state:
// the listed users who follow the account (all of them, for a consent
// template), minus the blocklist, reading only the chunks they fall in.
func resolveNotification(s *storage.Store, req *PublishRequest, left *leftOut) (*roaring.Bitmap, storage.Template, error) {
	t, err := s.Template(req.Account, req.Notification.Template)
	if err != nil {
		return nil, t, unknownTemplate(req.Account, req.Notification.Template, err)
	}
	if err := checkFields(req.Account, t, req.Notification); err != nil {
		return nil, t, err
	}
	listed := roaring.BitmapOf(req.Users...)
	audience := listed
	if !t.Consent {
		if audience, err = s.FollowersAmong(req.Account, listed); err != nil {
			return nil, t, err
		}
	}
	blocked, err := s.BlockedAmong(req.Account, audience)
	if err != nil {
		return nil, t, err
	}
	left.notSelected = uint32(listed.GetCardinality() - audience.GetCardinality())
	left.blocked = uint32(blocked.GetCardinality())
	audience.AndNot(blocked)
	return audience, t, nil
}

// applyNotification checks a notification in the writer's batch and, unless
// it is a dry run, counts it: the template as prepared is still the
// account's, every recipient of a consent template holds a grant (each
// spending one), and the recipients fit the day's limit.
func (o *publishOp) applyNotification(b *storage.Batch, policy TierPolicy, now uint64) error {
	n, account := o.req.Notification, o.req.Account
	t, err := b.Template(account, n.Template)
	if err != nil {
		return unknownTemplate(account, n.Template, err)
	}
	if err := checkFields(account, t, n); err != nil {
		return err
	}
	if t.Consent != o.template.Consent {
		return fmt.Errorf("%w: template %q changed while the notification was prepared; retry", ErrUnavailable, n.Template)
	}
	if t.Consent {
		var missing []string
		for it := o.audience.Iterator(); it.HasNext(); {
			user := it.Next()
			c, err := b.Consent(account, user, n.Template)
			if err != nil {
				return err
			}
			switch {
			case c.Banned:
				missing = append(missing, fmt.Sprintf("%d (banned it)", user))
			case c.Remaining == 0:
				missing = append(missing, fmt.Sprintf("%d", user))
			case !o.req.DryRun:
				c.Remaining--
				if err := b.PutConsent(account, user, n.Template, c); err != nil {
					return err
				}
			}
		}
		if len(missing) > 0 {
			if len(missing) > 10 {
				missing = append(missing[:10], fmt.Sprintf("and %d more", len(missing)-10))
			}
			return fmt.Errorf("%w: template %q: no grant from user %s; nothing was sent", ErrConsentRequired, n.Template, strings.Join(missing, ", "))
		}
	}
	if policy.NotificationsDaily <= 0 || o.req.DryRun {
		return nil
	}
	day := dayOf(now)
	used, err := b.NotifyCount(account, day)
	if err != nil {
		return err
	}
	recipients := o.audience.GetCardinality()
	if used+recipients > uint64(policy.NotificationsDaily) {
		return &QuotaError{Limit: policy.NotificationsDaily, What: "notifications", Per: "day", ResetAt: time.UnixMilli(int64(uint64(day+1) * dayMillis))}
	}
	return b.SetNotifyCount(account, day, used+recipients)
}

// templateOp defines or deletes a template.
type templateOp struct {
	req   engine.TemplateRequest
	t     storage.Template
	reply func(wire.TemplateInfo, error)
}

func (o *templateOp) apply(e *Engine, b *storage.Batch, _ uint64) error {
	o.t = storage.Template{}
	if _, err := accountIn(b, o.req.Account); err != nil {
		return err
	}
	name := o.req.Template.Name
	if o.req.Op == engine.TemplateDelete {
		t, err := b.DeleteTemplate(o.req.Account, name)
		o.t = t
		return unknownTemplate(o.req.Account, name, err)
	}
	if _, err := b.Template(o.req.Account, name); errors.Is(err, storage.ErrNotFound) {
		all, err := b.Templates(o.req.Account)
		if err != nil {
			return err
		}
		if len(all) >= e.cfg.MaxTemplates {
			return fmt.Errorf("%w: account %d has %d templates, the most allowed", ErrLimit, o.req.Account, len(all))
		}
	} else if err != nil {
		return err
	}
	o.t = o.req.Template
	return b.PutTemplate(o.req.Account, o.t)
}

func (o *templateOp) finish(err error)    { o.reply(o.t, err) }
func (o *templateOp) delivery() *delivery { return nil }

// Template defines (creates or replaces) or deletes one of an account's
// templates, answering from the writer goroutine once that is durable.
func (e *Engine) Template(req engine.TemplateRequest, done func(wire.TemplateInfo, error)) {
	var err error
	switch req.Op {
	case engine.TemplateDefine:
		err = req.Template.Validate()
	case engine.TemplateDelete:
		err = wire.CheckName("template", req.Template.Name)
	default:
		err = fmt.Errorf("unknown template operation %d", req.Op)
	}
	if err != nil {
		done(wire.TemplateInfo{}, fmt.Errorf("%w: %v", ErrBadRequest, err))
		return
	}
	if err := e.submit(&templateOp{req: req, reply: done}); err != nil {
		done(wire.TemplateInfo{}, err)
	}
}

// Templates lists the account's templates in name order, on a reader.
func (e *Engine) Templates(account uint32, done func([]wire.TemplateInfo, error)) {
	read(e, done, func() ([]wire.TemplateInfo, error) {
		if err := e.knownAccount(account); err != nil {
			return nil, err
		}
		return e.store.Templates(account)
	})
}

// consentOp records a user's answer to a consent template.
type consentOp struct {
	req   engine.ConsentRequest
	state storage.Consent
	reply func(engine.ConsentState, error)
}

func (o *consentOp) apply(_ *Engine, b *storage.Batch, _ uint64) error {
	q := o.req
	if _, err := accountIn(b, q.Account); err != nil {
		return err
	}
	t, err := b.Template(q.Account, q.Template)
	if err != nil {
		return unknownTemplate(q.Account, q.Template, err)
	}
	if !t.Consent {
		return fmt.Errorf("%w: template %q of account %d needs no consent: it reaches the account's followers", ErrBadRequest, q.Template, q.Account)
	}
	c, err := b.Consent(q.Account, q.User, q.Template)
	if err != nil {
		return err
	}
	switch q.Op {
	case engine.ConsentGrant:
		if c.Banned {
			return fmt.Errorf("%w: user %d banned template %q of account %d; unban it before granting", ErrBadRequest, q.User, q.Template, q.Account)
		}
		if uint64(c.Remaining)+uint64(q.Count) > wire.MaxGrants {
			return fmt.Errorf("%w: user %d holds %d grants for template %q; at most %d", ErrLimit, q.User, c.Remaining, q.Template, wire.MaxGrants)
		}
		c.Remaining += q.Count
	case engine.ConsentBan:
		c = storage.Consent{Banned: true}
	case engine.ConsentUnban:
		c.Banned = false
	}
	o.state = c
	return b.PutConsent(q.Account, q.User, q.Template, c)
}

func (o *consentOp) finish(err error) {
	o.reply(engine.ConsentState{Remaining: o.state.Remaining, Banned: o.state.Banned}, err)
}
func (o *consentOp) delivery() *delivery { return nil }

// Consent records a user's grant, ban or unban of one of an account's
// consent templates (the user need not follow the account), answering
// from the writer goroutine once that is durable.
func (e *Engine) Consent(req engine.ConsentRequest, done func(engine.ConsentState, error)) {
	var err error
	switch {
	case req.Op < engine.ConsentGrant || req.Op > engine.ConsentUnban:
		err = fmt.Errorf("unknown consent operation %d", req.Op)
	case req.Op == engine.ConsentGrant && (req.Count == 0 || req.Count > wire.MaxGrant):
		err = fmt.Errorf("a grant allows 1 to %d notifications, not %d", wire.MaxGrant, req.Count)
	default:
		err = wire.CheckName("template", req.Template)
	}
	if err != nil {
		done(engine.ConsentState{}, fmt.Errorf("%w: %v", ErrBadRequest, err))
		return
	}
	if err := e.submit(&consentOp{req: req, reply: done}); err != nil {
		done(engine.ConsentState{}, err)
	}
}
