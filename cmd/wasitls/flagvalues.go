package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"time"
)

// The flag package's own numeric flags answer a bad value with "parse
// error" or "value out of range"; the flags of this package's commands are
// defined with intVar and durationVar instead, whose errors say what to
// write. The flag package puts the flag's name and the value before them.

// intFlag is an int flag whose error for a bad value says what a number
// looks like.
type intFlag int

func (n *intFlag) String() string { return strconv.Itoa(int(*n)) }

func (n *intFlag) Get() any { return int(*n) }

func (n *intFlag) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, strconv.IntSize)
	switch {
	case errors.Is(err, strconv.ErrRange) && v < 0:
		return fmt.Errorf("want a whole number no smaller than %d", math.MinInt)
	case errors.Is(err, strconv.ErrRange):
		return fmt.Errorf("want a whole number no larger than %d", math.MaxInt)
	case err != nil:
		return errors.New("want a whole number, such as 64 or 4096, with no unit or suffix")
	}
	*n = intFlag(v)
	return nil
}

// intVar defines an intFlag as fs.Int defines an int flag.
func intVar(fs *flag.FlagSet, name string, value int, usage string) *int {
	p := new(int)
	*p = value
	fs.Var((*intFlag)(p), name, usage)
	return p
}

// durationFlag is a time.Duration flag whose error for a bad value says
// what a duration looks like.
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }

func (d *durationFlag) Get() any { return time.Duration(*d) }

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration with a unit, such as 500ms, 30s, 2m or 24h")
	}
	*d = durationFlag(v)
	return nil
}

// durationVar defines a durationFlag as fs.Duration defines a duration
// flag.
func durationVar(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	*p = value
	fs.Var((*durationFlag)(p), name, usage)
	return p
}

// A flagInt is an int flag's name, without its dashes, and value.
type flagInt struct {
	name string
	v    int
}

// atLeast returns the error of the first of flags whose value is below
// min, naming the flag, or nil.
func atLeast(min int, flags ...flagInt) error {
	for _, f := range flags {
		if f.v < min {
			return fmt.Errorf("--%s: want at least %d, got %d", f.name, min, f.v)
		}
	}
	return nil
}

// A durationRange is what a duration flag accepts: lo to hi, and 0 when
// zero says what 0 means ("" when 0 is refused too).
type durationRange struct {
	lo, hi time.Duration
	zero   string
}

// check returns the error of the duration flag name whose value v is out
// of r, naming the flag and the range, or nil. Before, any positive value
// passed: --ticket-key-rotation 1ns made a key per handshake whose tickets
// never opened, --handshake-timeout 1ns failed every handshake, and
// --send-linger 1ns dropped what a closed stream held.
func (r durationRange) check(name string, v time.Duration) error {
	if v == 0 && r.zero != "" || v >= r.lo && v <= r.hi {
		return nil
	}
	or := ""
	if r.zero != "" {
		or = ", or 0 for " + r.zero
	}
	return fmt.Errorf("--%s %v: want a duration from %v to %v%s", name, v, r.lo, r.hi, or)
}
