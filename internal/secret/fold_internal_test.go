package secret

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestContainsFold: the same answers as EqualFold tried at every byte,
// on strings built of the needles' letters in both cases, their Unicode
// folds and other bytes.
func TestContainsFold(t *testing.T) {
	everywhere := func(s, lower string) bool {
		for i := 0; i+len(lower) <= len(s); i++ {
			if strings.EqualFold(s[i:i+len(lower)], lower) {
				return true
			}
		}
		return false
	}
	pieces := []string{"b", "B", "e", "a", "r", "E", "R", "s", "S", "ſ", "i", "c", "C", "I", "l", "k", "K", "/",
		"callbacks/", "CALLBACKS/", "Bearer", "bASic", "é", "\xff", " ", "?"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(14) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := b.String()
		for _, lower := range []string{"callbacks/", "bearer", "basic"} {
			require.Equal(t, everywhere(s, lower), containsFold(s, lower), "%q in %q", lower, s)
		}
	}
	require.True(t, containsFold("Authorization: BASIC x", "basic"))
	require.False(t, containsFold("bas", "basic"))
}
