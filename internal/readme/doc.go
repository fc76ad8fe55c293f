// Package readme holds the tests that keep the code a new user copies true,
// so that none can drift from the API:
//
//   - README.md's "Embed it" program is extracted, built and run against a
//     real guest;
//   - its "Write a guest" fragment is built as a guest, and for the host,
//     where it fails with the error the README quotes;
//   - its "Run your own guest" loopback commands are run as written (and
//     without the flags the text says the command then names);
//   - its "Your own module" section is followed in a new module beside the
//     tree, guest and command built from there and run as written;
//   - docs/tls.md's porting table names only what guest/tls declares;
//   - docs/wit2host.md's plugin walk-through ("A plugin, end to end") is
//     written into a new module, generated, built and run, host and guest.
package readme
