package jsonenc

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Numbers whose text is long or whose exponent is far out: big.Rat, which
// ExactNumber used, refused exponents past about a million and called
// them exact (1e-5000000 reached the ledger as 0), and took seconds over
// a million digits (found by a defect hunt). The digits are now compared
// with the shortest decimal's, in one pass.
func TestExactNumberOfLongNumbers(t *testing.T) {
	t.Parallel()
	for n, exact := range map[string]bool{
		"1e-5000000": false, "-2.5E-2000000": false, "0e-5000000": true, "0.000e+9999999": true,
		"0." + strings.Repeat("7", 1_040_000):       false,
		"1." + strings.Repeat("0", 1_040_000):       true,
		"0." + strings.Repeat("0", 1_040_000) + "1": false,
		"100e-2": true, "1.5E+3": true, "-0.0": true, "12345678901234567e0": false, "5e-324": true, "3e-324": false,
	} {
		require.Equal(t, exact, ExactNumber(json.Number(n)), "%.30s (%d bytes)", n, len(n))
	}
}

// ExactNumber agrees with the exact comparison of rationals (big.Rat) on
// numbers of every shape within big.Rat's reach.
func TestExactNumberAgreesWithRationals(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		return b.String()
	}
	for range 20_000 {
		n := digits(1 + r.IntN(20))
		if r.IntN(2) == 0 {
			n = strings.TrimLeft(n, "0")
			if n == "" {
				n = "0"
			}
		}
		if r.IntN(2) == 0 {
			n = "0." + n
		} else if r.IntN(2) == 0 && len(n) > 1 && n[0] != '0' {
			n = n[:1] + "." + n[1:]
		}
		if r.IntN(2) == 0 {
			n += "e" + strconv.Itoa(r.IntN(700)-350)
		}
		if r.IntN(4) == 0 {
			n = "-" + n
		}
		f, err := strconv.ParseFloat(n, 64)
		if err != nil {
			continue
		}
		var written, kept big.Rat
		_, ok1 := written.SetString(n)
		_, ok2 := kept.SetString(strconv.FormatFloat(f, 'g', -1, 64))
		require.True(t, ok1 && ok2, n)
		require.Equal(t, written.Cmp(&kept) == 0, ExactNumber(json.Number(n)), n)
	}
}
