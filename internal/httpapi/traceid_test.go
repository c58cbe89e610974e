package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTraceIDOf(t *testing.T) {
	for in, want := range map[string]string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01": "4bf92f3577b34da6a3ce929d0e0e4736",
		"": "",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01": "", // invalid all-zero id
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01": "", // upper case is not W3C
		"00-4bf92f35-00f067aa0ba902b7-01":                         "",
		"garbage":                                                 "",
	} {
		require.Equal(t, want, traceIDOf(in), in)
	}
}
