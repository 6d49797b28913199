package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
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
	id  uint64
	set bool
}

func (v *cursorValue) String() string {
	if !v.set {
		return ""
	}
	return strconv.FormatUint(v.id, 10)
}

func (v *cursorValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a message id (0 or more)", s)
	}
	v.id, v.set = n, true
	return nil
}

func (v *cursorValue) Type() string { return "id" }

// sizeValue is a byte count written as a number with an optional unit:
// 4096, 64KiB, 1MiB, 2GiB, or 1MB (decimal). Zero prints as nothing.
type sizeValue[T ~int | ~int64] struct{ n *T }

// size returns a flag value that sets *n.
func size[T ~int | ~int64](n *T) sizeValue[T] { return sizeValue[T]{n: n} }

var sizeUnits = []struct {
	suffix string
	bytes  int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

func (v sizeValue[T]) String() string {
	n := int64(*v.n)
	if n == 0 {
		return ""
	}
	for _, u := range []struct {
		suffix string
		bytes  int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.bytes == 0 {
			return fmt.Sprintf("%d%s", n/u.bytes, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}

func (v sizeValue[T]) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if int64(T(n)) != n {
		return fmt.Errorf("%q is too large", s)
	}
	*v.n = T(n)
	return nil
}

func (v sizeValue[T]) Type() string { return "size" }

// parseSize reads "1048576", "1MiB", "64 KiB", "1.5GiB" or "2MB".
func parseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(text, u.suffix); ok {
			text, unit = strings.TrimSpace(rest), u.bytes
			break
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || !(f >= 0) || f*float64(unit) > math.MaxInt64/2 { // !(f >= 0) refuses NaN too
		return 0, fmt.Errorf("%q is not a size (a number of bytes, or with a unit: 64KiB, 1MiB, 2GiB, 1MB)", s)
	}
	return int64(f * float64(unit)), nil
}
