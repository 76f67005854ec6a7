package evm

import "strconv"

// PaymentURI builds the EIP-681 request a wallet scans from a QR code to
// pay units micro-USDC (base units of the token) to receiver:
//
//	ethereum:<usdc>@<chainId>/transfer?address=<receiver>&uint256=<units>
//
// Addresses are in EIP-55 form and units a plain integer (no decimal point,
// no exponent: wallets have misread both, research/evm.md §4g). A
// non-positive units leaves out uint256 (the wallet asks for the amount).
func PaymentURI(usdc Address, chainID uint64, receiver Address, units int64) string {
	s := "ethereum:" + usdc.Hex() + "@" + strconv.FormatUint(chainID, 10) + "/transfer?address=" + receiver.Hex()
	if units > 0 {
		s += "&uint256=" + strconv.FormatInt(units, 10)
	}
	return s
}
