package fanout

import "herald/engine"

// The contract's types, named here as the engine's own (package engine
// defines them; see its doc for the calling convention).
type (
	PublishRequest = engine.PublishRequest
	PublishResult  = engine.PublishResult
	JobReport      = engine.JobReport
	Page           = engine.Page
	TagRequest     = engine.TagRequest
	TagOp          = engine.TagOp
	Loop           = engine.Loop
	Sink           = engine.Sink
)

// Tag operations (engine.TagOp).
const (
	TagCreate = engine.TagCreate
	TagRename = engine.TagRename
	TagDelete = engine.TagDelete
	TagAdd    = engine.TagAdd
	TagRemove = engine.TagRemove
)

// The engine implements the contract.
var _ engine.Engine = (*Engine)(nil)
