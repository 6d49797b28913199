package cluster

import (
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/engine"
	"herald/fanout"
	"herald/wire"
)

// relayMsg is one part of a committed broadcast or retraction, from a core
// to the edges (subject relay), or answering an edge's fetch.
type relayMsg struct {
	// Instance is the core process's random id (a restart changes it).
	Instance uint64
	// Part of Parts: a large audience is split by user id ranges, and each
	// part carries the frames and its share of the audience.
	Part, Parts uint16
	// Retracted: a fetch of a broadcast withdrawn since; nothing to send.
	Retracted bool
	fanout.Relayed
}

func encodeRelay(m relayMsg) []byte {
	r := m.Relayed
	if r.Audience == nil {
		r.Audience = roaring.New()
	}
	e := newEnc(64 + len(r.Plain) + len(r.Compressed) + int(r.Audience.GetSerializedSizeInBytes()))
	e.u64(m.Instance)
	e.u16(m.Part)
	e.u16(m.Parts)
	e.flag(m.Retracted)
	e.u64(r.ID)
	e.u64(r.Retracts)
	e.u64(r.Expires)
	e.u32(uint32(r.Payload))
	e.bytes(r.Plain)
	e.bytes(r.Compressed)
	e.bitmap(r.Audience)
	return e.b
}

func decodeRelay(msg []byte) (relayMsg, error) {
	d, err := newDec(msg)
	if err != nil {
		return relayMsg{}, err
	}
	var m relayMsg
	m.Instance = d.u64()
	m.Part, m.Parts = d.u16(), d.u16()
	m.Retracted = d.flag()
	m.ID, m.Retracts, m.Expires = d.u64(), d.u64(), d.u64()
	m.Payload = int(d.u32())
	m.Plain, m.Compressed = d.ownBytes(), d.ownBytes()
	m.Audience = d.bitmap()
	if err := d.check("relay"); err != nil {
		return relayMsg{}, err
	}
	// A part is within its count; a broadcast has frames unless it was
	// retracted; a retraction names what it withdraws.
	if m.Parts == 0 || m.Part >= m.Parts || (!m.Retracted && len(m.Plain) == 0) || (m.ID == 0) == (m.Retracts == 0) {
		return relayMsg{}, errMalformed("relay fields")
	}
	return m, nil
}

func errMalformed(what string) error { return &malformed{what} }

type malformed struct{ what string }

func (m *malformed) Error() string { return ErrMalformed.Error() + ": " + m.what }
func (m *malformed) Unwrap() error { return ErrMalformed }

// reportMsg is an edge's outcome of one broadcast (subject report).
type reportMsg struct {
	Edge     string
	Instance uint64 // the core instance that relayed it
	ID       uint64
	Part     uint16
	Reached  *roaring.Bitmap
	Failed   *roaring.Bitmap
	// More: further reports of this part follow (outcomes too large for
	// one message are sent in user id ranges).
	More bool
}

func encodeReport(m reportMsg) []byte {
	e := newEnc(64)
	e.str(m.Edge)
	e.u64(m.Instance)
	e.u64(m.ID)
	e.u16(m.Part)
	e.bitmap(m.Reached)
	e.bitmap(m.Failed)
	e.flag(m.More)
	return e.b
}

func decodeReport(msg []byte) (reportMsg, error) {
	d, err := newDec(msg)
	if err != nil {
		return reportMsg{}, err
	}
	m := reportMsg{Edge: d.str(), Instance: d.u64(), ID: d.u64(), Part: d.u16(), Reached: d.bitmap(), Failed: d.bitmap(), More: d.flag()}
	return m, d.check("report")
}

// coreAlive is a core's heartbeat: its instance and newest committed id.
type coreAlive struct {
	Instance, Last uint64
}

func encodeCoreAlive(m coreAlive) []byte {
	e := newEnc(16)
	e.u64(m.Instance)
	e.u64(m.Last)
	return e.b
}

func decodeCoreAlive(msg []byte) (coreAlive, error) {
	d, err := newDec(msg)
	if err != nil {
		return coreAlive{}, err
	}
	m := coreAlive{Instance: d.u64(), Last: d.u64()}
	return m, d.check("core heartbeat")
}

// edgeAlive is an edge's heartbeat (and its goodbye, with Leaving).
type edgeAlive struct {
	Edge    string
	Leaving bool
}

func encodeEdgeAlive(m edgeAlive) []byte {
	e := newEnc(16)
	e.str(m.Edge)
	e.flag(m.Leaving)
	return e.b
}

func decodeEdgeAlive(msg []byte) (edgeAlive, error) {
	d, err := newDec(msg)
	if err != nil {
		return edgeAlive{}, err
	}
	m := edgeAlive{Edge: d.str(), Leaving: d.flag()}
	if err := d.check("edge heartbeat"); err != nil {
		return edgeAlive{}, err
	}
	if m.Edge == "" {
		return edgeAlive{}, errMalformed("edge heartbeat without a name")
	}
	return m, nil
}

// ack is one user's cumulative acknowledgement (with the highest id the
// connection got on a catch-up page, engine.Engine.Acknowledge) or, with
// Opened, the user's OPENED of broadcast ID.
type ack struct {
	User     uint32
	ID       uint64
	CaughtUp uint64
	Opened   bool
}

// ackSize is one ack's encoded length: kind u8, user u32, id u64,
// caught-up u64.
const ackSize = 21

func encodeAcks(acks []ack) []byte {
	e := newEnc(4 + ackSize*len(acks))
	e.u32(uint32(len(acks)))
	for _, a := range acks {
		kind := uint8(0)
		if a.Opened {
			kind = 1
		}
		e.u8(kind)
		e.u32(a.User)
		e.u64(a.ID)
		e.u64(a.CaughtUp)
	}
	return e.b
}

func decodeAcks(msg []byte) ([]ack, error) {
	d, err := newDec(msg)
	if err != nil {
		return nil, err
	}
	n := d.u32()
	if int64(n)*ackSize != int64(d.r.Len()) {
		return nil, errMalformed("acks count")
	}
	out := make([]ack, n)
	for i := range out {
		kind := d.u8()
		if kind > 1 {
			return nil, errMalformed("ack kind")
		}
		out[i] = ack{Opened: kind == 1, User: d.u32(), ID: d.u64(), CaughtUp: d.u64()}
	}
	return out, d.check("acks")
}

// The requests' bodies (subject req.<method>) and their answers. Each
// answer starts with a status byte: answerOK and the result, or
// answerError and the error (errors.go).
const (
	answerOK    = 0
	answerError = 1
)

func encResume(q engine.ResumeRequest) []byte {
	e := newEnc(24)
	e.u32(q.User)
	e.cursor(q.Cursor)
	e.flag(q.FromStored)
	e.cursor(q.Sent)
	e.flag(q.Compress)
	return e.b
}

func decResume(d *dec) engine.ResumeRequest {
	return engine.ResumeRequest{User: d.u32(), Cursor: d.cursor(), FromStored: d.flag(), Sent: d.cursor(), Compress: d.flag()}
}

func encPage(e *enc, p engine.Page) {
	e.cursor(p.Last)
	e.flag(p.More)
	e.flag(p.HistoryMissed)
	e.u64(p.Epoch)
	e.u32(uint32(len(p.Frames)))
	for _, f := range p.Frames {
		e.bytes(f)
	}
}

func decPage(d *dec) engine.Page {
	p := engine.Page{Last: d.cursor(), More: d.flag(), HistoryMissed: d.flag(), Epoch: d.u64()}
	n := d.u32()
	if int64(n)*4 > int64(d.r.Len()) {
		d.r.Fail()
		return p
	}
	if n > 0 {
		p.Frames = make([][]byte, n)
		for i := range p.Frames {
			p.Frames[i] = d.ownBytes()
		}
	}
	return p
}

func encMembership(q engine.Membership) []byte {
	e := newEnc(10 + 4*len(q.Users) + len(q.Source))
	e.u32(q.Account)
	e.u32s(q.Users)
	e.str(q.Source)
	return e.b
}

func decMembership(d *dec) engine.Membership {
	return engine.Membership{Account: d.u32(), Users: d.u32s(), Source: d.str()}
}

func encStatsRequest(q engine.FollowerStatsRequest) []byte {
	e := newEnc(12)
	e.u32(q.Account)
	e.u32(q.From)
	e.u32(q.To)
	return e.b
}

func decStatsRequest(d *dec) engine.FollowerStatsRequest {
	return engine.FollowerStatsRequest{Account: d.u32(), From: d.u32(), To: d.u32()}
}

func encFollowerDay(e *enc, day engine.FollowerDay) {
	e.u32(day.Day)
	e.u64(day.Follows)
	e.u64(day.Unfollows)
	e.u64(day.Cumulative)
	sources := make([]string, 0, len(day.BySource))
	for s := range day.BySource {
		sources = append(sources, s)
	}
	slices.Sort(sources)
	encList(e, sources, func(e *enc, s string) {
		e.str(s)
		e.u64(day.BySource[s])
	})
}

func decFollowerDay(d *dec) engine.FollowerDay {
	day := engine.FollowerDay{Day: d.u32(), Follows: d.u64(), Unfollows: d.u64(), Cumulative: d.u64()}
	type bySource struct {
		s string
		n uint64
	}
	for _, b := range decList(d, 2+8, func(d *dec) bySource { return bySource{d.str(), d.u64()} }) {
		if day.BySource == nil {
			day.BySource = map[string]uint64{}
		}
		day.BySource[b.s] += b.n
	}
	return day
}

func encCredentials(q engine.Credentials) []byte {
	e := newEnc(8 + len(q.Secret))
	e.u32(q.Account)
	e.str(q.Secret)
	return e.b
}

func decCredentials(d *dec) engine.Credentials {
	return engine.Credentials{Account: d.u32(), Secret: d.str()}
}

// publishMsg is a PublishRequest on the bus: OnJobDone becomes a subject
// of the asking edge and a token it chose (JobDone "" asks for none).
type publishMsg struct {
	engine.PublishRequest
	JobDone string
	Token   uint64
}

func encPublish(q publishMsg) []byte {
	e := newEnc(64 + len(q.Payload) + 4*(len(q.Preview)+len(q.Users)))
	e.u32(q.Account)
	e.str(q.ClientMsgID)
	e.u32(q.TTLSeconds)
	e.str(q.ContentType)
	e.bytes(q.Payload)
	e.u32s(q.Preview)
	e.u32s(q.Users)
	e.bytes(wire.AppendExpr(nil, q.Expr))
	e.flag(q.DryRun)
	e.str(q.JobDone)
	e.u64(q.Token)
	e.flag(q.Notification != nil)
	if q.Notification != nil {
		e.bytes(wire.AppendNotification(nil, *q.Notification))
	}
	e.u32(q.ReplyTo)
	e.u8(q.Speed)
	return e.b
}

func decPublish(d *dec) (publishMsg, error) {
	var q publishMsg
	q.Account, q.ClientMsgID, q.TTLSeconds, q.ContentType = d.u32(), d.str(), d.u32(), d.str()
	q.Payload, q.Preview, q.Users = d.ownBytes(), d.u32s(), d.u32s()
	expr := d.bytes()
	q.DryRun, q.JobDone, q.Token = d.flag(), d.str(), d.u64()
	var notification []byte
	if d.flag() {
		notification = d.bytes()
	}
	q.ReplyTo, q.Speed = d.u32(), d.u8()
	if d.r.Short() {
		return q, errMalformed("publish")
	}
	if notification != nil {
		n, err := wire.DecodeNotification(notification)
		if err != nil {
			return q, errMalformed("publish notification")
		}
		q.Notification = &n
	}
	if len(expr) > 0 {
		var err error
		if q.Expr, err = wire.DecodeExpr(expr); err != nil {
			return q, errMalformed("publish expression")
		}
	}
	return q, nil
}

func encPublishResult(e *enc, r engine.PublishResult) {
	e.u64(r.MessageID)
	e.u32(r.Total)
	e.u32(r.Filtered)
	e.u32(r.Recipients)
	e.u32(r.NotSelected)
	e.u32(r.Blocked)
	e.flag(r.Duplicate)
	e.flag(r.DryRun)
	e.flag(r.Scheduled)
}

func decPublishResult(d *dec) engine.PublishResult {
	return engine.PublishResult{MessageID: d.u64(), Total: d.u32(), Filtered: d.u32(), Recipients: d.u32(),
		NotSelected: d.u32(), Blocked: d.u32(), Duplicate: d.flag(), DryRun: d.flag(), Scheduled: d.flag()}
}

func encMessageRef(q engine.MessageRef) []byte {
	e := newEnc(12)
	e.u32(q.Account)
	e.u64(q.MessageID)
	return e.b
}

func decMessageRef(d *dec) engine.MessageRef {
	return engine.MessageRef{Account: d.u32(), MessageID: d.u64()}
}

func encJobReport(e *enc, r engine.JobReport) {
	e.u64(r.MessageID)
	e.u32(r.Total)
	e.u32(r.Filtered)
	e.u32(r.SentLive)
	e.u32(r.PendingOffline)
	e.u32(r.Errors)
	e.flag(r.InProgress)
	e.flag(r.Interrupted)
	m := r.Reach
	e.flag(m.Kept)
	e.u64(m.PublishedMillis)
	e.flag(m.Preview)
	e.flag(m.Retracted)
	for _, v := range []uint32{m.NotSelected, m.Blocked, m.Delivered, m.CaughtUp, m.Opened} {
		e.u32(v)
	}
	for _, v := range m.Curve {
		e.u32(v)
	}
}

func decJobReport(d *dec) engine.JobReport {
	r := engine.JobReport{MessageID: d.u64(), Total: d.u32(), Filtered: d.u32(), SentLive: d.u32(),
		PendingOffline: d.u32(), Errors: d.u32(), InProgress: d.flag(), Interrupted: d.flag()}
	m := &r.Reach
	m.Kept, m.PublishedMillis, m.Preview, m.Retracted = d.flag(), d.u64(), d.flag(), d.flag()
	for _, p := range []*uint32{&m.NotSelected, &m.Blocked, &m.Delivered, &m.CaughtUp, &m.Opened} {
		*p = d.u32()
	}
	for i := range m.Curve {
		m.Curve[i] = d.u32()
	}
	return r
}

// minJobReport is an encoded JobReport's length.
const minJobReport = 8 + 5*4 + 2 + 1 + 8 + 2 + 5*4 + wire.CurvePoints*4

func encBroadcastsRequest(q engine.BroadcastsRequest) []byte {
	e := newEnc(16)
	e.u32(q.Account)
	e.u64(q.Before)
	e.u32(uint32(max(q.Limit, 0)))
	return e.b
}

func decBroadcastsRequest(d *dec) engine.BroadcastsRequest {
	return engine.BroadcastsRequest{Account: d.u32(), Before: d.u64(), Limit: int(d.u32())}
}

func encBroadcastDay(e *enc, b engine.BroadcastDay) {
	e.u32(b.Day)
	e.u64(b.Broadcasts)
	e.u64(b.Recipients)
	e.u64(b.Delivered)
	e.u64(b.Opened)
}

func decBroadcastDay(d *dec) engine.BroadcastDay {
	return engine.BroadcastDay{Day: d.u32(), Broadcasts: d.u64(), Recipients: d.u64(), Delivered: d.u64(), Opened: d.u64()}
}

// minBroadcastDay is an encoded BroadcastDay's length.
const minBroadcastDay = 4 + 4*8

// jobDoneMsg answers a publish's OnJobDone on the asking edge's subject.
type jobDoneMsg struct {
	Token  uint64
	Report engine.JobReport
}

func encJobDone(m jobDoneMsg) []byte {
	e := newEnc(48)
	e.u64(m.Token)
	encJobReport(e, m.Report)
	return e.b
}

func decodeJobDone(msg []byte) (jobDoneMsg, error) {
	d, err := newDec(msg)
	if err != nil {
		return jobDoneMsg{}, err
	}
	m := jobDoneMsg{Token: d.u64(), Report: decJobReport(d)}
	return m, d.check("job done")
}

func encTagRequest(q engine.TagRequest) []byte {
	e := newEnc(16 + len(q.Name) + len(q.NewName) + 4*len(q.Users))
	e.u32(q.Account)
	e.u8(uint8(q.Op))
	e.str(q.Name)
	e.str(q.NewName)
	e.u32s(q.Users)
	return e.b
}

func decTagRequest(d *dec) engine.TagRequest {
	return engine.TagRequest{Account: d.u32(), Op: engine.TagOp(d.u8()), Name: d.str(), NewName: d.str(), Users: d.u32s()}
}

func encTag(e *enc, t engine.Tag) {
	e.u32(t.ID)
	e.str(t.Name)
	e.u64(t.Members)
}

func decTag(d *dec) engine.Tag { return engine.Tag{ID: d.u32(), Name: d.str(), Members: d.u64()} }

func encAccount(e *enc, a engine.Account) {
	e.u32(a.ID)
	e.str(a.Name)
	e.str(a.Tier)
	e.u64(a.CreatedMillis)
	e.u64(a.Followers)
	e.str(a.Secret)
}

func decAccount(d *dec) engine.Account {
	return engine.Account{ID: d.u32(), Name: d.str(), Tier: d.str(), CreatedMillis: d.u64(), Followers: d.u64(), Secret: d.str()}
}

// encList writes a list: its length, then each item.
func encList[T any](e *enc, items []T, one func(*enc, T)) {
	e.u32(uint32(len(items)))
	for _, item := range items {
		one(e, item)
	}
}

// decList reads what encList wrote, each item at least min bytes.
func decList[T any](d *dec, min int, one func(*dec) T) []T {
	out := make([]T, d.count(min))
	for i := range out {
		out[i] = one(d)
	}
	return out
}

func encTemplateInfo(e *enc, t wire.TemplateInfo) {
	e.str(t.Name)
	e.str(t.Title)
	e.flag(t.Consent)
	e.u32(uint32(len(t.Fields)))
	for _, f := range t.Fields {
		e.str(f)
	}
}

func decTemplateInfo(d *dec) wire.TemplateInfo {
	t := wire.TemplateInfo{Name: d.str(), Title: d.str(), Consent: d.flag()}
	if n := d.count(2); n > 0 {
		t.Fields = make([]string, n)
		for i := range t.Fields {
			t.Fields[i] = d.str()
		}
	}
	return t
}

func encTemplateRequest(q engine.TemplateRequest) []byte {
	e := newEnc(64)
	e.u32(q.Account)
	e.u8(uint8(q.Op))
	encTemplateInfo(e, q.Template)
	return e.b
}

func decTemplateRequest(d *dec) engine.TemplateRequest {
	return engine.TemplateRequest{Account: d.u32(), Op: engine.TemplateOp(d.u8()), Template: decTemplateInfo(d)}
}

func encConsentRequest(q engine.ConsentRequest) []byte {
	e := newEnc(32)
	e.u32(q.User)
	e.u32(q.Account)
	e.str(q.Template)
	e.u8(uint8(q.Op))
	e.u32(q.Count)
	return e.b
}

func decConsentRequest(d *dec) engine.ConsentRequest {
	return engine.ConsentRequest{User: d.u32(), Account: d.u32(), Template: d.str(), Op: engine.ConsentOp(d.u8()), Count: d.u32()}
}

func encConsentState(e *enc, c engine.ConsentState) {
	e.u32(c.Remaining)
	e.flag(c.Banned)
}

func decConsentState(d *dec) engine.ConsentState {
	return engine.ConsentState{Remaining: d.u32(), Banned: d.flag()}
}

func encScheduleRequest(q engine.ScheduleRequest) []byte {
	e := newEnc(16)
	e.i64(q.SendAt.UnixMilli())
	e.bytes(encPublish(publishMsg{PublishRequest: q.PublishRequest}))
	return e.b
}

func decScheduleRequest(d *dec) (engine.ScheduleRequest, error) {
	at := d.i64()
	inner, err := newDec(d.bytes())
	if err != nil {
		return engine.ScheduleRequest{}, errMalformed("schedule")
	}
	p, err := decPublish(inner)
	if err == nil {
		err = inner.check("schedule")
	}
	return engine.ScheduleRequest{PublishRequest: p.PublishRequest, SendAt: time.UnixMilli(at)}, err
}

func encCancelRequest(q engine.CancelRequest) []byte {
	e := newEnc(8 + len(q.ClientMsgID))
	e.u32(q.Account)
	e.str(q.ClientMsgID)
	return e.b
}

func decCancelRequest(d *dec) engine.CancelRequest {
	return engine.CancelRequest{Account: d.u32(), ClientMsgID: d.str()}
}

func encScheduled(e *enc, s engine.ScheduledBroadcast) {
	e.str(s.ClientMsgID)
	e.i64(s.SendAt.UnixMilli())
	e.str(s.State)
	e.u64(s.MessageID)
	e.str(s.Error)
}

func decScheduled(d *dec) engine.ScheduledBroadcast {
	return engine.ScheduledBroadcast{ClientMsgID: d.str(), SendAt: time.UnixMilli(d.i64()).UTC(), State: d.str(), MessageID: d.u64(), Error: d.str()}
}

func encConfirmRequest(q engine.ConfirmRequest) []byte {
	e := newEnc(8 + len(q.ClientMsgID))
	e.u32(q.Account)
	e.str(q.ClientMsgID)
	e.flag(q.Accept)
	return e.b
}

func decConfirmRequest(d *dec) engine.ConfirmRequest {
	return engine.ConfirmRequest{Account: d.u32(), ClientMsgID: d.str(), Accept: d.flag()}
}

func encConfirmation(e *enc, c engine.Confirmation) {
	e.str(c.ClientMsgID)
	e.i64(c.Since.UnixMilli())
	e.i64(c.Expires.UnixMilli())
}

func decConfirmation(d *dec) engine.Confirmation {
	return engine.Confirmation{ClientMsgID: d.str(), Since: time.UnixMilli(d.i64()), Expires: time.UnixMilli(d.i64())}
}

func encLetterRequest(q engine.LetterRequest) []byte {
	e := newEnc(16 + len(q.ContentType) + len(q.Payload))
	e.u32(q.User)
	e.u32(q.Account)
	e.str(q.ContentType)
	e.bytes(q.Payload)
	return e.b
}

func decLetterRequest(d *dec) engine.LetterRequest {
	return engine.LetterRequest{User: d.u32(), Account: d.u32(), ContentType: d.str(), Payload: d.ownBytes()}
}

func encInboxRequest(q engine.InboxRequest) []byte {
	e := newEnc(16)
	e.u32(q.Account)
	e.u64(q.After)
	e.u32(uint32(q.Limit))
	return e.b
}

func decInboxRequest(d *dec) engine.InboxRequest {
	return engine.InboxRequest{Account: d.u32(), After: d.u64(), Limit: int(d.u32())}
}

func encLetter(e *enc, l engine.Letter) {
	e.u64(l.Seq)
	e.u32(l.User)
	e.u64(l.TimeMillis)
	e.str(l.ContentType)
	e.bytes(l.Payload)
}

func decLetter(d *dec) engine.Letter {
	return engine.Letter{Seq: d.u64(), User: d.u32(), TimeMillis: d.u64(), ContentType: d.str(), Payload: d.ownBytes()}
}

// Least sizes of a Tag, an Account and a FollowerDay on the bus, for
// decList.
const (
	minTemplate    = 2 + 2 + 1 + 4
	minLetter      = 8 + 4 + 8 + 2 + 4
	minScheduled   = 2 + 8 + 2 + 8 + 2
	minConfirm     = 2 + 8 + 8
	minTag         = 4 + 2 + 8
	minAccount     = 4 + 2 + 2 + 8 + 8 + 2
	minFollowerDay = 4 + 8 + 8 + 8 + 4
)

// count reads a list length, failing it if the rest cannot hold n items of
// at least min bytes each.
func (d *dec) count(min int) int {
	n := d.u32()
	if int64(n)*int64(min) > int64(d.r.Len()) {
		d.r.Fail()
		return 0
	}
	return int(n)
}

func encDuration(d time.Duration) []byte {
	e := newEnc(8)
	e.i64(int64(d))
	return e.b
}
