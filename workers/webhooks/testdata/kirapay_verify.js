// Runs the KiraPay document's Node.js webhook verifier, exactly as the
// document prints it (between the BEGIN and END lines; the Go test checks
// that block byte for byte), against deliveries captured by a real HTTP
// receiver in the Go tests.
//
// Usage: node kirapay_verify.js cases.json
// cases.json: [{"name", "body" (base64 of the raw request body),
// "signature" (X-KiraPay-Signature), "secret", "timestamp"
// (X-KiraPay-Timestamp), "mode"}]. mode is what the receiver passes as
// payload: "string" (the raw body as text), "buffer" (the raw body as a
// Buffer), "reparse" (JSON.stringify(JSON.parse(body)), i.e. express.json()
// then JSON.stringify(req.body)) or "object" (the parsed object itself, the
// [object Object] mistake). For each case it prints one JSON line: {"name",
// "ok", "threw"}: what verifyWebhook returned, and the code of the error it
// threw ("" if none; timingSafeEqual throws on a signature of another
// length).

// ----- BEGIN verbatim from the KiraPay document -----
const crypto = require('crypto');
function verifyWebhook(payload, signature, secret, timestamp) {
const expectedSignature = crypto
.createHmac('sha256', secret)
.update(`${timestamp}.${payload}`)
.digest('base64');
const expectedHeader = `sha256=${expectedSignature}`;
return crypto.timingSafeEqual(
Buffer.from(signature),
Buffer.from(expectedHeader)
);
}
// ----- END verbatim from the KiraPay document -----

const fs = require('fs');

for (const c of JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))) {
  const raw = Buffer.from(c.body, 'base64');
  const payload = {
    string: () => raw.toString('utf8'),
    buffer: () => raw,
    reparse: () => JSON.stringify(JSON.parse(raw.toString('utf8'))),
    object: () => JSON.parse(raw.toString('utf8')),
  }[c.mode]();
  let ok = false;
  let threw = '';
  try {
    ok = verifyWebhook(payload, c.signature, c.secret, c.timestamp);
  } catch (e) {
    threw = e.code || String(e);
  }
  console.log(JSON.stringify({ name: c.name, ok, threw }));
}
