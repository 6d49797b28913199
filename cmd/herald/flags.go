package main

import (
	"fmt"
	"strconv"
	"strings"

	"herald/client"
)

// Flag values of Herald's own kinds. Each prints nothing as its default
// when it has none, so that help shows one default per flag, said in the
// flag's usage when it needs saying.

// idValue is a uint32 id flag (a user or account id) that knows whether it
// was given: user 0 is a user.
type idValue struct {
	what string // "user id", "account id"
	id   uint32
	set  bool
}

func (v *idValue) String() string {
	if !v.set {
		return ""
	}
	return strconv.FormatUint(uint64(v.id), 10)
}

func (v *idValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return fmt.Errorf("%q is not a number from 0 to 4294967295 (a %s)", s, v.what)
	}
	v.id, v.set = uint32(n), true
	return nil
}

func (v *idValue) Type() string { return "id" }

// idsValue is a comma-separated list of user ids.
type idsValue struct{ ids []uint32 }

func (v *idsValue) String() string {
	parts := make([]string, len(v.ids))
	for i, id := range v.ids {
		parts[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(parts, ",")
}

func (v *idsValue) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(part), 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not a user id (0 to 4294967295)", part)
		}
		v.ids = append(v.ids, uint32(n))
	}
	return nil
}

func (v *idsValue) Type() string { return "ids" }

// cursorValue is an optional message id.
type cursorValue struct {
	cursor client.Cursor
	set    bool
}

func (v *cursorValue) String() string {
	if !v.set {
		return ""
	}
	return v.cursor.String()
}

func (v *cursorValue) Set(s string) error {
	c, err := client.ParseCursor(s)
	if err != nil {
		return fmt.Errorf("%q is not a cursor (a message id, or a cluster's ids separated by commas)", s)
	}
	v.cursor, v.set = c, true
	return nil
}

func (v *cursorValue) Type() string { return "cursor" }
