package server

import (
	"herald/engine"
	"herald/wire"
)

// notify stores and sends one notification, answered as a publish is:
// PUBLISH_ACK once durable, JOB_DONE once delivered.
func (cn *conn) notify(f wire.Frame) error {
	m, err := wire.DecodeNotify(f.Body)
	if err == nil {
		err = m.Validate()
	}
	if err != nil {
		return cn.invalid(f, err)
	}
	if !cn.owns(m.RequestID, m.Account) || !cn.admit(m.RequestID) {
		return nil
	}
	n := m.Notification
	req := engine.PublishRequest{
		DryRun:       f.Flags&wire.FlagDryRun != 0,
		Account:      m.Account,
		ClientMsgID:  m.ClientMsgID,
		TTLSeconds:   m.TTLSeconds,
		Users:        m.Users,
		Notification: &n,
	}
	cn.submitPublish(m.RequestID, req)
	return nil
}

// template defines, deletes or lists the account's templates, answering
// TEMPLATES.
func (cn *conn) template(f wire.Frame) error {
	m, err := wire.DecodeTemplate(f.Body)
	if err != nil {
		return cn.invalid(f, err)
	}
	if !cn.owns(m.RequestID, m.Account) {
		return nil
	}
	answer := func(err error, ts ...wire.TemplateInfo) {
		cn.reply(func() {
			if err != nil {
				cn.sendError(m.RequestID, codeFor(err), err.Error())
				return
			}
			out := wire.Templates{RequestID: m.RequestID, Templates: ts}
			cn.send(func(dst []byte) []byte { return wire.AppendTemplates(dst, out) })
		})
	}
	if m.Op == wire.TemplateList {
		cn.srv.engine.Templates(m.Account, func(ts []wire.TemplateInfo, err error) { answer(err, ts...) })
		return nil
	}
	req := engine.TemplateRequest{Account: m.Account, Op: engine.TemplateOp(m.Op), Template: m.Template}
	cn.srv.engine.Template(req, func(t wire.TemplateInfo, err error) { answer(err, t) })
	return nil
}

// consent records the user's grant, ban or unban of an account's consent
// template, answering OK once that is durable.
func (cn *conn) consent(f wire.Frame) error {
	m, err := wire.DecodeConsent(f.Body)
	if err != nil {
		return cn.invalid(f, err)
	}
	answer := cn.answerOK(m.RequestID)
	req := engine.ConsentRequest{User: cn.user, Account: m.Account, Template: m.Template, Op: engine.ConsentOp(m.Op), Count: uint32(m.Count)}
	cn.srv.engine.Consent(req, func(_ engine.ConsentState, err error) { answer(err) })
	return nil
}
