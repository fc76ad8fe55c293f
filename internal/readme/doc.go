// Package readme holds the tests that keep the code a new user copies true:
// README.md's "Embed it" program is extracted, built and run against a real
// guest, its "Write a guest" fragment is built as a guest, its "Run your own
// guest" loopback commands are run as written (and without the flags the
// text says the command then names), its "Your own module" section is
// followed in a new module beside the tree, guest and command built from
// there and run as written, and
// docs/wit2host.md's plugin walk-through ("A plugin, end to end")
// is written into a new module, generated, built and run, host and guest, so
// none can drift from the API.
package readme
