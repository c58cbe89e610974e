package expr

import (
	"testing"
)

// A timestamp operation with an inputFormat reformats what exists (a
// missing or null value is left alone), so entries[*].legs[0].valueDate
// pads no array: it may index after a wildcard, as delete may. Refused as
// if it created what it writes, a stored workflow using it stopped
// compiling (found by a review). $now creates: refused.
func TestTimestampReformatMayIndexAfterAWildcard(t *testing.T) {
	t.Parallel()
	_, err := CompileOperations([]Operation{{Operation: "timestamp",
		Spec: map[string]any{"entries[*].legs[0].valueDate": map[string]any{"inputFormat": "2006-01-02", "outputFormat": "02/01/2006"}}}})
	if err != nil {
		t.Errorf("refused: %v", err)
	}
	_, err = CompileOperations([]Operation{{Operation: "timestamp",
		Spec: map[string]any{"entries[*].legs[0].stampedAt": map[string]any{"inputFormat": "$now", "outputFormat": "2006-01-02"}}}})
	if err == nil {
		t.Error("$now at an index after a wildcard pads every entry: refused")
	}
}
