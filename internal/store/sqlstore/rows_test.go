package sqlstore

import "testing"

// n rows go out in power-of-two chunks no larger than the bound: few
// statement shapes to cache, few statements per write.
func TestRowChunks(t *testing.T) {
	for _, c := range []struct{ n, max int }{{1, 64}, {3, 64}, {37, 64}, {64, 64}, {200, 64}, {5, 1}} {
		shapes := 0
		for left := c.n; left > 0; {
			k := rowChunk(left, c.max)
			if k < 1 || k > left || k > c.max || k&(k-1) != 0 {
				t.Fatalf("rowChunk(%d, %d) = %d", left, c.max, k)
			}
			left -= k
			shapes++
		}
		if c.n <= c.max && shapes > 7 {
			t.Fatalf("%d rows took %d statements", c.n, shapes)
		}
	}
}
