// Runs the KasPay API document's Node.js signature verifier, exactly as the
// document prints it (between the BEGIN and END lines; the Go test checks
// that block byte for byte), against deliveries captured by a real HTTP
// receiver in the Go tests.
//
// Usage: node kaspay_verify.js cases.json
// cases.json: [{"name", "body" (base64 of the raw request body), "signature"
// (the X-KasPay-Signature header), "secret"}]. For each case it prints one
// JSON line: {"name", "verified", "canonical"}, where verified is what
// verifySignature returned for the parsed body (as express.json() would hand
// it to a handler), and canonical says whether the raw body equals
// JSON.stringify(JSON.parse(body)).

// ----- BEGIN verbatim from the KasPay API document -----
// Verify webhook signature (Node.js)
const crypto = require('crypto');

function verifySignature(payload, signature, secret) {
  const expected = crypto
    .createHmac('sha256', secret)
    .update(JSON.stringify(payload))
    .digest('hex');
  return signature === expected;
}
// ----- END verbatim from the KasPay API document -----

const fs = require('fs');

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
for (const c of cases) {
  const raw = Buffer.from(c.body, 'base64').toString('utf8');
  const payload = JSON.parse(raw);
  const verified = verifySignature(payload, c.signature, c.secret);
  const canonical = JSON.stringify(payload) === raw;
  console.log(JSON.stringify({ name: c.name, verified, canonical }));
}
