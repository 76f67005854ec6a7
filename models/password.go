package models

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

// commonPasswordsText is the list of passwords Till refuses because they are
// among the first an attacker tries. It has no upstream source file: it was
// written for Till, without network access, from well-known patterns of the
// public breach-frequency lists (the classic "top 100/500" passwords, first
// names, sports teams, pop-culture and crypto words), each word with the
// suffixes people add (1, 123, 1234, !, 007, years 1980–2030), keyboard walks
// (qwertyuiop, 1qaz2wsx…) and their prefixes, digit and letter runs,
// repeated characters and patterns, and "password"/"p@ssw0rd" variants. One
// password a line, lowercase ASCII; comparison is case-insensitive. Entries
// shorter than MinPasswordLen are kept (harmless) so the file can serve a
// shorter minimum too.
//
//go:embed common_passwords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 8192)
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			set[strings.ToLower(line)] = struct{}{}
		}
	}
	return set
})

// IsCommonPassword reports whether pw (compared lowercase) is on Till's list
// of common passwords.
func IsCommonPassword(pw string) bool {
	_, ok := commonPasswords()[strings.ToLower(pw)]
	return ok
}

// validatePassword applies the password rules of sign-up and password
// change: MinPasswordLen characters at least, MaxPasswordBytes at most (bcrypt
// ignores the rest), and not a common password.
func validatePassword(field, pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return Invalid(field, "Password must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordBytes:
		return Invalid(field, "Password must be at most %d bytes", MaxPasswordBytes)
	case IsCommonPassword(pw):
		return Invalid(field, "This password is too common: choose one that is harder to guess")
	}
	return nil
}
