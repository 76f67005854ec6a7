// Runs the Node.js verifiers printed in docs/WEBHOOKS.md (the block between
// BEGIN and END; the Go test checks the document holds it byte for byte)
// against deliveries captured by the Go tests.
//
// Usage: node docs_verify.js cases.json
// cases.json: [{"name", "body" (base64 raw body), "headers" (lower-case
// names), "secret"}]. Prints one JSON line per case: {"name", "raw",
// "timed"}: what verifyKasPaySignature and verifyTillSignature returned.

// ----- BEGIN docs/WEBHOOKS.md Node verifiers -----
const crypto = require('crypto');

// X-KasPay-Signature: HMAC-SHA256 of the raw body, compared in constant time.
function verifyKasPaySignature(rawBody, signature, secret) {
  const expected = crypto.createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(String(signature || ''), 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

// X-Till-Signature: binds the event id and the timestamp to the body, so a
// stale or replayed delivery can be refused.
function verifyTillSignature(rawBody, headers, secret, toleranceSeconds = 300) {
  const id = headers['x-kaspay-event-id'];
  const ts = headers['x-kaspay-timestamp'];
  const sig = String(headers['x-till-signature'] || '').replace(/^v1=/, '');
  if (!id || !/^\d+$/.test(ts || '')) return false;
  if (Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSeconds) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${id}.${ts}.`).update(rawBody).digest();
  const given = Buffer.from(sig, 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}
// ----- END docs/WEBHOOKS.md Node verifiers -----

const fs = require('fs');

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
for (const c of cases) {
  const raw = Buffer.from(c.body, 'base64');
  console.log(JSON.stringify({
    name: c.name,
    raw: verifyKasPaySignature(raw, c.headers['x-kaspay-signature'], c.secret),
    timed: verifyTillSignature(raw, c.headers, c.secret),
  }));
}
