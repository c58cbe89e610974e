package httpapi

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
		require.Equal(t, exact, exactNumber(json.Number(n)), n)
	}
}

// TestLongDigitRuns: only a run of 16 digits or more, points within it
// not counting, sends a body to the walk.
func TestLongDigitRuns(t *testing.T) {
	require.False(t, hasLongDigitRun([]byte(`{"a":123456789012345,"b":"2026-12-05T23:10:00.123456Z"}`)))
	require.True(t, hasLongDigitRun([]byte(`{"a":1234567890123456}`)))
	require.True(t, hasLongDigitRun([]byte(`{"a":12345678.90123456}`)))
	require.False(t, hasLongDigitRun([]byte(`{"a":12345678,"b":90123456}`)))
}
