package component

import "fmt"

// A NotSupportedError reports a Component Model feature outside the
// supported synchronous subset, such as "async function type",
// "stream<T>" or "string-encoding=utf16".
type NotSupportedError struct {
	Feature string
}

func (e *NotSupportedError) Error() string { return "not supported: " + e.Feature }

func notSupported(format string, args ...any) error {
	return &NotSupportedError{Feature: fmt.Sprintf(format, args...)}
}
