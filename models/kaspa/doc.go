// Package kaspa holds the pure value types the gateway needs to talk about
// Kaspa: networks, addresses (the cashaddr-style bech32 codec and the
// matching output scripts), account extended public keys (kpub/ktub) with
// per-invoice receive-address derivation, and BIP21-style payment URIs.
//
// Nothing here performs I/O. The address codec is hand-written because
// kaspad's Go module cannot be fetched; it follows rusty-kaspa
// (crypto/addresses) and kaspad (util/bech32) but is stricter: lowercase
// only, exact payload length per version, zero padding bits, and a decoded
// address always re-encodes to the exact input string.
package kaspa
