package jsonenc

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExactNumber: a number is refused only when a float64 would change
// it, however it is written.
func TestExactNumber(t *testing.T) {
	for n, exact := range map[string]bool{
		"0.1": true, "1.0": true, "-0": true, "1e2": true, "1E-7": true, "0.30000000000000004": true,
		"9007199254740992": true, "100000000000000000000": true, "123456789012345": true,
		"1.5e300": true, "1e400": true, // out of range: decoding refuses it
		"9007199254740993": false, "123456789012345678": false, "0.12345678901234567891": false,
		"-9007199254740993": false, "9007199254740993e-3": false,
	} {
		require.Equal(t, exact, ExactNumber(json.Number(n)), n)
	}
}

// TestMayChangeANumber: a body is walked when, outside its strings, it
// holds a run of 16 digits or more (points within it not counting) or an
// exponent; digits in strings are text.
func TestMayChangeANumber(t *testing.T) {
	for body, walked := range map[string]bool{
		`{"a":123456789012345,"b":"2026-12-05T23:10:00.123456Z"}`: false,
		`{"a":12345678,"b":90123456}`:                             false,
		`{"card":"4111111111111111","id":"3f2e9c1e-4e5f-8d2e"}`:   false,
		`{"a":"say \"1234567890123456\" twice"}`:                  false,
		`{"a":1234567890123456}`:                                  true,
		`{"a":12345678.90123456}`:                                 true,
		`{"a":1e-400}`:                                            true,
		`{"a":"x\\","b":5E3}`:                                     true,
	} {
		require.Equal(t, walked, MayChangeANumber([]byte(body)), body)
	}
}
