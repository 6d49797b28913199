package cluster

import (
	"strconv"
	"strings"
)

// The bus is NATS. A cluster's subjects all start with its name (Config's
// Cluster, "herald" by default); <k> is a core's shard (its accounts'
// top byte, wire.AccountShard), 0 to 63:
//
//	<name>.core.<k>.relay    core k → edges: each committed broadcast and retraction
//	<name>.core.<k>.alive    core k → edges: heartbeat with the last id relayed
//	<name>.core.<k>.keys     core k → edges: its token keys changed; fetch them
//	<name>.req.<k>.<method>  edge → core k: a request of the engine's contract
//	<name>.report.<k>        edge → core k: a broadcast's outcome on the edge
//	<name>.acks.<k>          edge → core k: batched acknowledgements of its ids and openings
//	<name>.edge.alive        edge → cores: heartbeat (and goodbye)
//	<name>.edge.<e>.job      core → edge e: a publish's job report
//
// A core publishes relay, alive and keys on one connection, so an edge
// reads them in the order they were sent; an edge reads each core's on a
// subscription of its own.
type subjects struct{ name string }

func shardToken(k uint8) string { return strconv.Itoa(int(k)) }

func (s subjects) coreAll(k uint8) string   { return s.name + ".core." + shardToken(k) + ".>" }
func (s subjects) relay(k uint8) string     { return s.name + ".core." + shardToken(k) + ".relay" }
func (s subjects) coreAlive(k uint8) string { return s.name + ".core." + shardToken(k) + ".alive" }
func (s subjects) keys(k uint8) string      { return s.name + ".core." + shardToken(k) + ".keys" }
func (s subjects) req(k uint8, method string) string {
	return s.name + ".req." + shardToken(k) + "." + method
}
func (s subjects) reqAll(k uint8) string      { return s.name + ".req." + shardToken(k) + ".*" }
func (s subjects) report(k uint8) string      { return s.name + ".report." + shardToken(k) }
func (s subjects) acks(k uint8) string        { return s.name + ".acks." + shardToken(k) }
func (s subjects) edgeAlive() string          { return s.name + ".edge.alive" }
func (s subjects) jobDone(edge string) string { return s.name + ".edge." + edge + ".job" }
func (s subjects) method(k uint8, subject string) string {
	return strings.TrimPrefix(subject, s.name+".req."+shardToken(k)+".")
}

// The request methods (subject req.<method>).
const (
	mResume     = "resume"
	mFollow     = "follow"
	mUnfollow   = "unfollow"
	mBlock      = "block"
	mUnblock    = "unblock"
	mAuth       = "auth"
	mPublish    = "publish"
	mRetract    = "retract"
	mStatus     = "status"
	mTag        = "tag"
	mTags       = "tags"
	mTemplate   = "template"
	mTemplates  = "templates"
	mConsent    = "consent"
	mWrite      = "write"
	mInbox      = "inbox"
	mSchedule   = "schedule"
	mCancel     = "cancel"
	mSchedules  = "schedules"
	mConfirm    = "confirm"
	mConfirms   = "confirms"
	mCreate     = "create"
	mAccount    = "account"
	mAccounts   = "accounts"
	mFollowers  = "followers"
	mStats      = "stats"
	mBroadcasts = "broadcasts"
	mReachDays  = "reachdays"
	mFollowing  = "following"
	mRotate     = "rotate"
	mKeys       = "keys"
	mFetch      = "fetch"
)

// DefaultCluster is the cluster name when none is given.
const DefaultCluster = "herald"
