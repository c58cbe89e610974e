package jsonenc

import (
	"encoding/json"
	"math/big"
	"strconv"
)

// Numbers a float64 would change: a request carrying one is refused
// (httpapi), a provider's answer keeps it as its text (engine).

// MayChangeANumber reports whether body may hold a number a float64 would
// change: outside strings, 16 digits or more in a run of digits and points
// (a float64 keeps any 15 significant digits), or an exponent (below
// 2.2e-308 it keeps fewer, and 1e-400 becomes 0). Strings are skipped: an
// id or a card number in one is text, kept as sent.
func MayChangeANumber(body []byte) bool {
	digits, inString := 0, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case inString && c == '\\':
			i++ // the escaped byte
		case c == '"':
			inString, digits = !inString, 0
		case inString:
		case '0' <= c && c <= '9':
			if digits++; digits >= 16 {
				return true
			}
		case (c == 'e' || c == 'E') && digits > 0:
			return true
		case c != '.':
			digits = 0
		}
	}
	return false
}

// ExactNumber reports whether a float64 holds n as written: whether n and
// the shortest decimal that reads back as the same float64 are one number
// (0.1 and 1.0 are; 9007199254740993 is not). One out of range is left to
// decoding, which refuses it.
func ExactNumber(n json.Number) bool {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return true
	}
	shortest := strconv.FormatFloat(f, 'g', -1, 64)
	if shortest == string(n) {
		return true
	}
	var written, kept big.Rat
	if _, ok := written.SetString(string(n)); !ok {
		return true
	}
	if _, ok := kept.SetString(shortest); !ok {
		return true
	}
	return written.Cmp(&kept) == 0
}
