package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"

	"herald/wire"
)

// Template is one of the account's templates: its name (its id within the
// account), a title, its fields' names, and whether a notification of it
// needs the recipient's consent (a subscriber's Consent) rather than the
// recipient's following.
type Template = wire.TemplateInfo

// Notification is one template message to send to listed users.
type Notification struct {
	// ClientMsgID makes retries idempotent for 24 hours, as Message's.
	ClientMsgID string
	Template    string
	// Fields fill the template by name; every name must be one of the
	// template's (a missing one is left empty).
	Fields map[string]string
	// Link, if set, is where the notification leads (at most 2048 bytes).
	Link string
	// TTL, if set, stops catch-up from delivering it after that long.
	TTL time.Duration
	// Users are the recipients, 1 to 100: followers for a template without
	// consent (others are left out), any user holding a grant for a
	// consent template.
	Users []uint32
	// DryRun checks the template, consents and limit and counts the
	// recipients; nothing is stored, sent or spent.
	DryRun bool
}

// Notify stores and sends one notification, returning once the server has
// made it durable (the result counts as Publish's: Total recipients after
// the blocklist). A consent template's notification is refused with
// CONSENT_REQUIRED, and nothing sent, if a recipient holds no grant.
// Connection failures are retried as Publish's are.
func (p *Publisher) Notify(ctx context.Context, n Notification) (PublishResult, error) {
	if n.ClientMsgID == "" {
		raw := make([]byte, 16)
		_, _ = rand.Read(raw)
		n.ClientMsgID = hex.EncodeToString(raw)
	}
	if n.TTL < 0 || n.TTL > time.Duration(1<<32-1)*time.Second {
		return PublishResult{}, fmt.Errorf("client: TTL %v out of range", n.TTL)
	}
	req := wire.Notify{
		DryRun:       n.DryRun,
		Account:      p.cfg.Account,
		ClientMsgID:  n.ClientMsgID,
		TTLSeconds:   uint32(n.TTL / time.Second),
		Users:        n.Users,
		Notification: wire.Notification{Template: n.Template, Link: n.Link},
	}
	for _, name := range slices.Sorted(maps.Keys(n.Fields)) {
		req.Fields = append(req.Fields, wire.Field{Name: name, Value: n.Fields[name]})
	}
	if err := req.Validate(); err != nil {
		return PublishResult{}, fmt.Errorf("client: %w", err)
	}
	r, err := p.call(ctx, "notify "+n.ClientMsgID, func(id uint32) []byte {
		req.RequestID = id
		return wire.AppendNotify(nil, req)
	})
	if err != nil {
		return PublishResult{}, err
	}
	return publishResultFrom(r), nil
}

// DefineTemplate creates a template or replaces one of that name (its
// title, fields and consent flag), returning it as stored.
func (p *Publisher) DefineTemplate(ctx context.Context, t Template) (Template, error) {
	if err := t.Validate(); err != nil {
		return Template{}, fmt.Errorf("client: %w", err)
	}
	return p.templateCall(ctx, wire.Template{Op: wire.TemplateDefine, Template: t})
}

// DeleteTemplate deletes a template, returning it as it was.
// Notifications of it fail with UNKNOWN_TEMPLATE after; users' consents
// stay, and count again if a template of that name is defined later.
func (p *Publisher) DeleteTemplate(ctx context.Context, name string) (Template, error) {
	if err := wire.CheckName("template", name); err != nil {
		return Template{}, fmt.Errorf("client: %w", err)
	}
	return p.templateCall(ctx, wire.Template{Op: wire.TemplateDelete, Template: Template{Name: name}})
}

// Templates lists the account's templates in name order.
func (p *Publisher) Templates(ctx context.Context) ([]Template, error) {
	r, err := p.call(ctx, "list templates", func(id uint32) []byte {
		return wire.AppendTemplate(nil, wire.Template{RequestID: id, Account: p.cfg.Account, Op: wire.TemplateList})
	})
	return r.templates, err
}

func (p *Publisher) templateCall(ctx context.Context, m wire.Template) (Template, error) {
	m.Account = p.cfg.Account
	r, err := p.call(ctx, fmt.Sprintf("template %q", m.Template.Name), func(id uint32) []byte {
		m.RequestID = id
		return wire.AppendTemplate(nil, m)
	})
	if err != nil {
		return Template{}, err
	}
	if len(r.templates) != 1 {
		return Template{}, fmt.Errorf("client: TEMPLATES answer with %d templates, want 1", len(r.templates))
	}
	return r.templates[0], nil
}

// Grant allows account to send the user count more notifications (1 to
// 100) of its consent template; it returns once that is durable. A user
// holds at most 1,000 grants per template (LIMIT_EXCEEDED), and a banned
// template must be unbanned first. Rejecting a request for consent needs
// nothing sent: without a grant, the account cannot send.
func (s *Subscriber) Grant(ctx context.Context, account uint32, template string, count int) error {
	if count < 1 || count > wire.MaxGrant {
		return fmt.Errorf("client: a grant allows 1 to %d notifications, not %d", wire.MaxGrant, count)
	}
	return s.consent(ctx, wire.Consent{Account: account, Op: wire.ConsentGrant, Template: template, Count: uint16(count)})
}

// Ban refuses account's template for good: grants left are dropped and
// notifications of it to the user are refused until Unban.
func (s *Subscriber) Ban(ctx context.Context, account uint32, template string) error {
	return s.consent(ctx, wire.Consent{Account: account, Op: wire.ConsentBan, Template: template})
}

// Unban lifts a Ban; the account needs a new Grant to send.
func (s *Subscriber) Unban(ctx context.Context, account uint32, template string) error {
	return s.consent(ctx, wire.Consent{Account: account, Op: wire.ConsentUnban, Template: template})
}

func (s *Subscriber) consent(ctx context.Context, m wire.Consent) error {
	if err := wire.CheckName("template", m.Template); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return s.request(ctx, func(id uint32) []byte {
		m.RequestID = id
		return wire.AppendConsent(nil, m)
	})
}
