package jsonenc

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
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
// (0.1 and 1.0 are; 9007199254740993 and 1e-400 are not). One out of range
// is left to decoding, which refuses it. Linear in n's length, whatever
// its digits or exponent: a request may carry a number of a million
// digits (big.Rat took seconds over one, and refused 1e-5000000 as text).
func ExactNumber(n json.Number) bool {
	s := string(n)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return true
	}
	shortest := strconv.FormatFloat(math.Abs(f), 'e', -1, 64)
	if shortest == s {
		return true
	}
	digits, exp, ok := significand(s)
	switch {
	case !ok:
		return false // more significant digits than a shortest decimal has
	case len(digits) == 0:
		return f == 0
	case f == 0:
		return false
	}
	e := strings.IndexByte(shortest, 'e')
	shortestExp, _ := strconv.Atoi(shortest[e+1:])
	mantissa := shortest[:1]
	if e > 1 {
		mantissa += shortest[2:e] // past the point
	}
	return exp == shortestExp && string(digits) == strings.TrimRight(mantissa, "0")
}

// maxShortestDigits bounds the significant digits of the shortest decimal
// that reads back as a float64.
const maxShortestDigits = 17

// significand reads a JSON number's text: its significant digits (no
// leading or trailing zeros; none for zero) and the decimal exponent of
// the first (1234.5 → "12345", 3; 0.0012 → "12", -3). ok is false when
// there are more than maxShortestDigits of them. The exponent saturates.
func significand(s string) (digits []byte, exp int, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	pos, first, zeros := 0, 0, 0 // pos: digits of the mantissa read; first: position of the first non-zero
	for ; i < len(s) && s[i] != 'e' && s[i] != 'E'; i++ {
		c := s[i]
		switch {
		case c == '.':
			exp = pos // digits before the point
			continue
		case c == '0' && len(digits) == 0:
		case c == '0':
			zeros++
		default:
			if len(digits) == 0 {
				first = pos
			}
			for ; zeros > 0; zeros-- {
				digits = append(digits, '0')
			}
			if digits = append(digits, c); len(digits) > maxShortestDigits {
				return nil, 0, false
			}
		}
		pos++
	}
	if !strings.Contains(s[:i], ".") {
		exp = pos
	}
	exp -= first + 1
	if i < len(s) { // the exponent
		i++
		neg := i < len(s) && s[i] == '-'
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		e := 0
		for ; i < len(s); i++ {
			if e < 1<<30 {
				e = e*10 + int(s[i]-'0')
			}
		}
		if neg {
			e = -e
		}
		exp += e
	}
	return digits, exp, true
}
