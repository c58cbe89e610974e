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

// IN lists are padded to a power of two with the last value: 1…512 ids
// make 10 statement shapes, not 512.
func TestInListShapes(t *testing.T) {
	shapes := map[string]bool{}
	for n := 1; n <= 512; n++ {
		values := make([]any, n)
		for i := range values {
			values[i] = i
		}
		marks, padded := inList(3, values)
		if len(padded) < n || len(padded)&(len(padded)-1) != 0 || padded[len(padded)-1] != n-1 {
			t.Fatalf("%d values padded to %v", n, padded)
		}
		shapes[marks] = true
	}
	if len(shapes) != 10 {
		t.Fatalf("%d shapes", len(shapes))
	}
}

// valuesSQL's texts are the same built or cached, for every shape, and a
// write of a cached shape builds nothing.
func TestValuesSQL(t *testing.T) {
	if got := valuesSQL(2, 3); got != " VALUES ($1, $2, $3), ($4, $5, $6)" {
		t.Fatalf("valuesSQL(2, 3) = %q", got)
	}
	for _, rows := range []int{1, 2, 3, 4, 7, 64, 256, 300} {
		for _, cols := range []int{1, 12, 19} {
			if got, want := valuesSQL(rows, cols), buildValuesSQL(rows, cols); got != want {
				t.Fatalf("valuesSQL(%d, %d) = %q, want %q", rows, cols, got, want)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = valuesSQL(64, 12) }); n > 0 {
		t.Fatalf("a cached shape allocated %v times", n)
	}
}
