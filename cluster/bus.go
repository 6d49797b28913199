package cluster

// The bus is NATS. A cluster's subjects all start with its name (Config's
// Cluster, "herald" by default):
//
//	<name>.core.relay     core → edges: each committed broadcast and retraction
//	<name>.core.alive     core → edges: heartbeat with the last id relayed
//	<name>.core.keys      core → edges: the token keys changed; fetch them
//	<name>.req.<method>   edge → core: a request of the engine's contract
//	<name>.report         edge → core: a broadcast's outcome on the edge
//	<name>.acks           edge → core: batched acknowledgements
//	<name>.edge.alive     edge → cores: heartbeat (and goodbye)
//	<name>.edge.<e>.job   core → edge e: a publish's job report
//
// A core publishes relay, alive and keys on one connection, so an edge
// reads them in the order they were sent.
type subjects struct{ name string }

func (s subjects) coreAll() string              { return s.name + ".core.>" }
func (s subjects) relay() string                { return s.name + ".core.relay" }
func (s subjects) coreAlive() string            { return s.name + ".core.alive" }
func (s subjects) keys() string                 { return s.name + ".core.keys" }
func (s subjects) req(method string) string     { return s.name + ".req." + method }
func (s subjects) reqAll() string               { return s.name + ".req.*" }
func (s subjects) report() string               { return s.name + ".report" }
func (s subjects) acks() string                 { return s.name + ".acks" }
func (s subjects) edgeAlive() string            { return s.name + ".edge.alive" }
func (s subjects) jobDone(edge string) string   { return s.name + ".edge." + edge + ".job" }
func (s subjects) method(subject string) string { return subject[len(s.name)+len(".req."):] }

// The request methods (subject req.<method>).
const (
	mResume    = "resume"
	mFollow    = "follow"
	mUnfollow  = "unfollow"
	mBlock     = "block"
	mUnblock   = "unblock"
	mAuth      = "auth"
	mPublish   = "publish"
	mRetract   = "retract"
	mStatus    = "status"
	mTag       = "tag"
	mTags      = "tags"
	mCreate    = "create"
	mAccount   = "account"
	mAccounts  = "accounts"
	mFollowers = "followers"
	mRotate    = "rotate"
	mKeys      = "keys"
	mFetch     = "fetch"
)

// DefaultCluster is the cluster name when none is given.
const DefaultCluster = "herald"
