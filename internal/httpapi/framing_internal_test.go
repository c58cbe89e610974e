package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// framingProblem reads the raw header lines as fasthttp does (names in any
// case, values trimmed); an obsolete line folding of a framing field is
// refused.
func TestFramingProblem(t *testing.T) {
	const (
		twoLengths = "Content-Length is given twice with different values"
		both       = "Content-Length and Transfer-Encoding are both given"
		notChunked = "Transfer-Encoding must be chunked, once"
		folded     = "Content-Length or Transfer-Encoding is folded over lines"
	)
	for raw, want := range map[string]string{
		"":                          "",
		"Host: x\r\n\r\n":           "",
		"Content-Length: 5\r\n\r\n": "",
		"Content-Length: 5\r\ncontent-length:5\r\n\r\n":                    "",
		"Transfer-Encoding: chunked\r\n\r\n":                               "",
		"transfer-encoding:  CHUNKED \r\n\r\n":                             "",
		"Content-Length: 0\r\nContent-Length: 18\r\n\r\n":                  twoLengths,
		"Content-Length: 5\r\nContent-Length: 05\r\n\r\n":                  twoLengths,
		"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n":          both,
		"Transfer-Encoding: chunked\r\nCONTENT-LENGTH: 4\r\n\r\n":          both,
		"Transfer-Encoding: identity\r\nContent-Length: 4\r\n\r\n":         both,
		"Transfer-Encoding: xchunked\r\n\r\n":                              notChunked,
		"Transfer-Encoding: gzip, chunked\r\n\r\n":                         notChunked,
		"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n": notChunked,
		"Transfer-Encoding: chunked\r\n x\r\n\r\n":                         folded, // fasthttp reads "chunked x"
		"Content-Length: 5\r\n 6\r\n\r\n":                                  folded,
		"X-Note: a\r\n b\r\nContent-Length: 5\r\n\r\n":                     "",
	} {
		require.Equal(t, want, framingProblem([]byte(raw)), "%q", raw)
	}
	// It runs on every request: nothing allocated.
	raw := []byte("Host: x\r\nContent-Length: 5\r\nX-Api-Key: k\r\nContent-Type: application/json\r\n\r\n")
	require.Zero(t, testing.AllocsPerRun(100, func() { framingProblem(raw) }))
}
