// Package jsonenc writes JSON text as encoding/json writes it, at about a
// third of its time: segmentio's encoder writes the same bytes (sorted map
// keys, HTML and U+2028/U+2029 escapes, invalid UTF-8 replaced, the same
// number formats). Errors are encoding/json's own, so what a caller reports
// of a value JSON cannot hold (NaN, ±Inf, a channel) does not depend on the
// encoder: segmentio words some differently ("inf" for -Inf).
//
// Every JSON Flowker writes on its hot paths goes through it: API answers,
// stored values, provider request bodies, request fingerprints. What is
// decoded (requests, providers' answers: hostile input) is still read by
// encoding/json, and text that seals an audit chain is written by it.
//
// One difference remains: a json.Number that is not a number is written as
// is, where encoding/json refuses it. Every json.Number Flowker holds was
// decoded from JSON.
package jsonenc

import (
	"encoding/json"

	segjson "github.com/segmentio/encoding/json"
)

// flags are what segjson.Marshal uses: encoding/json's behaviour.
const flags = segjson.EscapeHTML | segjson.SortMapKeys

// Marshal is json.Marshal.
func Marshal(v any) ([]byte, error) {
	b, err := segjson.Marshal(v)
	if err != nil {
		return nil, canonical(v, err)
	}
	return b, nil
}

// Append appends v's text to dst, as Marshal would write it; on error dst
// is returned as it was.
func Append(dst []byte, v any) ([]byte, error) {
	b, err := segjson.Append(dst, v, flags)
	if err != nil {
		return dst, canonical(v, err)
	}
	return b, nil
}

// canonical is encoding/json's error for v, or err if it has none.
func canonical(v any, err error) error {
	if _, jerr := json.Marshal(v); jerr != nil {
		return jerr
	}
	return err
}
