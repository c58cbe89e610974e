package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"flowker/internal/jsonenc"
)

// TestNumbersOutsideTheNormalRangeAreNotChanged: below 2.2e-308 a float64
// keeps fewer than 15 digits, and below 4.9e-324 none (1e-400 decodes as
// 0, without an error): such a number is refused too (found by a review:
// the first version let short ones through unwalked).
func TestNumbersOutsideTheNormalRangeAreNotChanged(t *testing.T) {
	for _, n := range []string{"1e-400", "4.9e-324", "123456789012345e-330"} {
		require.False(t, jsonenc.ExactNumber(json.Number(n)), n)
		require.Error(t, checkJSONText([]byte(`{"inputData":{"amount":`+n+`}}`)), n)
	}
	require.NoError(t, checkJSONText([]byte(`{"inputData":{"amount":1.5e3,"rate":2E-7}}`)))
}
