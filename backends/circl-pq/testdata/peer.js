// A Node.js TLS peer for the interop tests (Node 24, OpenSSL 3.5).
//
//   node peer.js server GROUPS CERT KEY       prints the port, echoes one connection
//   node peer.js client GROUPS CA PORT        sends "ping", expects it echoed, prints "OK"
//
// GROUPS is an OpenSSL group list ("X25519MLKEM768", "MLKEM512:X25519");
// OpenSSL sends a key share for the first group only.
'use strict';
const tls = require('tls');
const fs = require('fs');

const [mode, groups, a, b, c] = process.argv.slice(2);
const fail = (err) => { console.error(String(err && err.stack || err)); process.exit(1); };

if (mode === 'server') {
  const srv = tls.createServer({
    cert: fs.readFileSync(a), key: fs.readFileSync(b),
    ecdhCurve: groups, minVersion: 'TLSv1.3',
  }, (s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => { s.end(); srv.close(); });
    s.on('error', fail);
  });
  srv.on('tlsClientError', fail);
  srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
} else if (mode === 'client') {
  const s = tls.connect({
    host: '127.0.0.1', port: Number(b), servername: 'a.test',
    ca: fs.readFileSync(a), ecdhCurve: groups, minVersion: 'TLSv1.3',
  }, () => s.write('ping'));
  let got = '';
  s.on('data', (d) => {
    got += d;
    if (got === 'ping') { console.log('OK'); s.end(); }
  });
  s.on('error', fail);
} else {
  fail('usage: peer.js server|client ...');
}
