package sqlstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"flowker/internal/jsonenc"
	"flowker/internal/store"
)

// Values both databases store alike. PostgreSQL refuses U+0000 in text and
// jsonb, and invalid UTF-8 in text; SQLite keeps both. So the shared layer
// refuses them first, before any statement is sent, with an error wrapping
// store.ErrUnstorable that names what was refused — the same answer on both.
//
// JSON values are encoded once (encoding/json) and the encoded text is
// checked. encoding/json writes NUL as the escape \u0000 and silently
// replaces invalid UTF-8 with U+FFFD, in strings and map keys alike: JSON
// values are therefore normalised rather than refused for invalid UTF-8
// (JSON decoded from a request or a provider response is valid already; a
// Go string cut mid-rune comes back with U+FFFD), and refused for NUL.

// checkText refuses a string column value no database stores alike.
func checkText(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return store.Unstorable(nil, "%s contains a NUL character (U+0000), which cannot be stored", what)
	}
	if !utf8.ValidString(s) {
		return store.Unstorable(nil, "%s is not valid UTF-8 and cannot be stored", what)
	}
	return nil
}

// checkTexts checks (name, value) pairs and returns the first refusal.
func checkTexts(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkText(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// storable reports whether every value would pass checkText; lookups use
// it to answer "no match" for a value no row can hold, on both databases.
func storable(values ...string) bool {
	for _, v := range values {
		if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

var escapedNUL = []byte(`\u0000`)

// marshalJSON encodes v for the column what, storing empty as the given
// literal so a read returns [] or {} rather than null. A NUL anywhere (a
// value or a key) and a value JSON cannot hold (NaN, ±Inf) are refused.
//
// The text is jsonenc's (encoding/json's, at a third of the time), and the
// writer encodes every step it stores; what is hashed uses canonicalJSON
// instead. It is appended to a pooled buffer and copied out once, as the
// string the driver binds.
func marshalJSON(what string, v any, empty string) (string, error) {
	buf := jsonBuffers.Get().(*[]byte)
	b, err := jsonenc.Append((*buf)[:0], v)
	s, err := storedJSON(what, b, err, empty)
	if cap(b) <= maxPooledJSON {
		*buf = b
		jsonBuffers.Put(buf)
	}
	return s, err
}

// jsonBuffers holds marshalJSON's buffers; one grown past maxPooledJSON
// (a large input or answer) is left to the GC rather than kept.
var jsonBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledJSON = 64 << 10

// canonicalJSON is marshalJSON with encoding/json itself, for text that is
// hashed (audit metadata, audit.EncodeMetadata's): a chain must verify with
// the encoder that sealed it.
func canonicalJSON(what string, v any, empty string) (string, error) {
	b, err := json.Marshal(v)
	return storedJSON(what, b, err, empty)
}

// storedJSON checks encoded text (b, or the encoder's err) and returns it as
// the string to store.
func storedJSON(what string, b []byte, err error, empty string) (string, error) {
	if err != nil {
		var uv *json.UnsupportedValueError
		if errors.As(err, &uv) {
			return "", store.Unstorable(err, "%s holds a value JSON cannot represent (%s)", what, uv.Str)
		}
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if hasEscapedNUL(b) {
		return "", store.Unstorable(nil, "%s contains a NUL character (U+0000) in a value or key, which cannot be stored", what)
	}
	if string(b) == "null" {
		return empty, nil
	}
	return string(b), nil
}

// hasEscapedNUL reports whether encoded JSON holds the escape \u0000. The
// six bytes are an escape only when the backslash is not itself escaped,
// i.e. an even number of backslashes precede it (the text `\u0000` typed by
// a user is encoded as `\\u0000`).
func hasEscapedNUL(b []byte) bool {
	for i := 0; ; {
		j := bytes.Index(b[i:], escapedNUL)
		if j < 0 {
			return false
		}
		j += i
		n := 0
		for k := j - 1; k >= 0 && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return true
		}
		i = j + len(escapedNUL)
	}
}
