// A Node.js TLS peer for the interop tests (Node 24, OpenSSL 3.5). One
// process serves every case, since starting Node is slow.
//
//   node peer.js server SPECS CERT KEY   one echo server per spec; prints their
//                                        ports on one line; exits when stdin ends
//   node peer.js resume SPEC CA PORT     connect twice, the second time with the
//                                        first session; prints RESUMED or FULL
//   node peer.js client SPECS CA PORT    for each spec in turn: connect, send
//                                        "ping", expect it echoed, end with
//                                        close_notify; prints "OK spec" or
//                                        "ERR spec reason" per spec
//
// SPECS are OpenSSL group lists separated by "/" ("X25519MLKEM768/X25519:MLKEM512"),
// or "auto" for OpenSSL's default groups;
// OpenSSL sends a key share for the first group of a list only.
'use strict';
const tls = require('tls');
const fs = require('fs');

const [mode, specs, a, b] = process.argv.slice(2);
const groups = specs.split('/');

if (mode === 'server') {
  const cert = fs.readFileSync(a), key = fs.readFileSync(b);
  const ports = [];
  let pending = groups.length;
  groups.forEach((g, i) => {
    const srv = tls.createServer({ cert, key, ecdhCurve: g, minVersion: 'TLSv1.3' }, (s) => {
      s.on('data', (d) => s.write(d));
      s.on('end', () => s.end());
      s.on('error', (e) => console.error(`server ${g}: ${e.message}`));
    });
    srv.on('tlsClientError', (e) => console.error(`server ${g}: ${e.message}`));
    srv.listen(0, '127.0.0.1', () => {
      ports[i] = srv.address().port;
      if (--pending === 0) console.log(ports.join(' '));
    });
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else if (mode === 'client') {
  const ca = fs.readFileSync(a);
  const one = (i) => {
    if (i === groups.length) return;
    const g = groups[i];
    let done = false;
    const finish = (line) => { if (!done) { done = true; console.log(line); setImmediate(() => one(i + 1)); } };
    const s = tls.connect({ host: '127.0.0.1', port: Number(b), servername: 'a.test', ca, ecdhCurve: g, minVersion: 'TLSv1.3' },
      () => s.write('ping'));
    let got = '';
    s.on('data', (d) => { got += d; if (got === 'ping') s.end(); });
    s.on('close', () => finish(got === 'ping' ? `OK ${g}` : `ERR ${g} got ${JSON.stringify(got)}`));
    s.on('error', (e) => finish(`ERR ${g} ${e.message}`));
  };
  one(0);
} else if (mode === 'resume') {
  // Two connections to PORT; the second offers the first one's session.
  // Prints "RESUMED" or "FULL" for the second.
  const ca = fs.readFileSync(a);
  let session;
  const connect = (opts, then) => {
    const s = tls.connect({ host: '127.0.0.1', port: Number(b), servername: 'a.test', ca,
      ecdhCurve: groups[0], minVersion: 'TLSv1.3', ...opts }, () => { s.reused = s.isSessionReused(); s.write('ping'); });
    s.on('session', (sess) => { session = sess; });
    let got = '';
    s.on('data', (d) => { got += d; if (got === 'ping') s.end(); });
    s.on('close', () => then(s));
    s.on('error', (e) => { console.log(`ERR ${e.message}`); process.exit(1); });
  };
  connect({}, () => connect({ session }, (s) => console.log(s.reused ? 'RESUMED' : 'FULL')));
} else {
  console.error('usage: peer.js server|client|resume ...');
  process.exit(2);
}
