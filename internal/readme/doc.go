// Package readme holds the test that keeps README.md's code true: the
// "Embed it" program is extracted, built and run against a real guest, so
// that the snippet a new user copies first cannot drift from the API.
package readme
