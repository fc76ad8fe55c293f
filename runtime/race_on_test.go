//go:build race

package runtime_test

// raceDetector is set when the tests run with -race.
const raceDetector = true
