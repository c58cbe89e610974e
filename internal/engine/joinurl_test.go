package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A call joins its path to the base URL with one slash, whatever the base
// ends with: as a saved executor URL drops every trailing slash and the
// connection test joins, so "…/v1//" (an executor row saved when one slash
// was dropped per save, any provider's base_url) is called where the test
// probed, not at "…/v1//check" (found by a defect hunt).
func TestJoinURLOneSlashWhateverTheBaseEndedWith(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"https://fraud.example.com/v1", "https://fraud.example.com/v1/",
		"https://fraud.example.com/v1//"} {
		require.Equal(t, "https://fraud.example.com/v1/check", joinURL(base, "/check"), base)
		require.Equal(t, "https://fraud.example.com/v1/check", joinURL(base, "check"), base)
	}
	require.Equal(t, "https://fraud.example.com/v1/", joinURL("https://fraud.example.com/v1/", ""), "no path: the base as given")
}
