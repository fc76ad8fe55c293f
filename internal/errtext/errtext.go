// Package errtext bounds the text of errors the host keeps: a backend's or
// the system's message may quote what a peer or a guest sent, and an
// error kept for a connection's or a stream's life keeps its message.
package errtext

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Max is how much of an error's message the host keeps: 4 KiB, its start,
// then how many bytes were cut.
//
// crypto/x509 refuses a certificate's malformed URI quoting it twice, each
// control character as four bytes, so that a peer's 200 KiB of URI makes a
// 1.6 MB message.
const Max = 4 << 10

// Cut is s, cut to Max bytes at the start of a character if longer,
// saying how many bytes were cut; a cut result shares none of s.
func Cut(s string) string {
	if len(s) <= Max {
		return s
	}
	cut := Max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... (%d bytes more)", len(s)-cut)
}

// Bound returns err when its message is within Max, and otherwise an
// error whose message is err's cut (Cut) and that wraps, for errors.Is
// and errors.As, the errors err wraps whose own messages are within Max
// (on each branch of its tree, the outermost such): an io.EOF, a
// syscall.Errno, an os.ErrDeadlineExceeded stay visible, the long
// messages that wrap them are not kept. What such an error holds besides
// its message is its maker's to drop. An error whose message is that of
// a bound error it wraps (Bound's or Detach's own, or one a backend
// returns around it) is returned as is: its message is cut once.
func Bound(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if len(msg) <= Max {
		return err
	}
	if c, ok := errors.AsType[*cutError](err); ok && c.msg == msg {
		return err
	}
	return &cutError{msg: Cut(msg), kept: shortCauses(err, nil)}
}

// Detach returns an error whose message is err's cut (Cut) and that
// wraps, for errors.Is and errors.As, kept alone: nothing else err holds
// is kept.
func Detach(err error, kept []error) error {
	return &cutError{msg: Cut(err.Error()), kept: kept}
}

// shortCauses appends to kept the errors err wraps whose messages are
// within Max, descending only through those whose messages are not.
func shortCauses(err error, kept []error) []error {
	var next []error
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if e := u.Unwrap(); e != nil {
			next = []error{e}
		}
	case interface{ Unwrap() []error }:
		next = u.Unwrap()
	}
	for _, e := range next {
		if e == nil {
			continue
		}
		if len(e.Error()) <= Max {
			kept = append(kept, e)
			continue
		}
		kept = shortCauses(e, kept)
	}
	return kept
}

type cutError struct {
	msg  string
	kept []error
}

func (e *cutError) Error() string   { return e.msg }
func (e *cutError) Unwrap() []error { return e.kept }
