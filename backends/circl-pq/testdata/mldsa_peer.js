// A Node.js TLS peer with ML-DSA certificates for the interop tests (Node 24,
// OpenSSL 3.5). TLS 1.3 only; certificates of both sides are verified.
//
//   node mldsa_peer.js server CERT KEY CA   echo server that requires a client
//                                           certificate; prints its port, then
//                                           "OK <client CN> <sigalg>" per connection
//                                           (or "ERR reason"); exits when stdin ends
//   node mldsa_peer.js client PORT CA CERT KEY   connects as "a.test", sends "ping",
//                                           expects it echoed, prints "OK <server CN>"
//                                           or "ERR reason"
'use strict';
const tls = require('tls');
const fs = require('fs');

const [mode, ...args] = process.argv.slice(2);
const cn = (cert) => (cert && cert.subject && cert.subject.CN) || '?';

if (mode === 'server') {
  const [cert, key, ca] = args.map((f) => fs.readFileSync(f));
  const srv = tls.createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (s) => {
    console.log(`OK ${cn(s.getPeerCertificate())}`);
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
    s.on('error', (e) => console.log(`ERR ${e.message}`));
  });
  srv.on('tlsClientError', (e) => console.log(`ERR ${e.message}`));
  srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else if (mode === 'client') {
  const [port, caFile, certFile, keyFile] = args;
  const s = tls.connect({
    host: '127.0.0.1', port: Number(port), servername: 'a.test', minVersion: 'TLSv1.3',
    ca: fs.readFileSync(caFile), cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile),
  }, () => { peer = cn(s.getPeerCertificate()); s.write('ping'); });
  let got = '', done = false, peer = '?';
  const finish = (line) => { if (!done) { done = true; console.log(line); } };
  s.on('data', (d) => { got += d; if (got === 'ping') s.end(); });
  s.on('close', () => finish(got === 'ping' ? `OK ${peer}` : `ERR got ${JSON.stringify(got)}`));
  s.on('error', (e) => finish(`ERR ${e.message}`));
} else {
  console.error('usage: mldsa_peer.js server|client ...');
  process.exit(2);
}
