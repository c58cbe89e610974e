package secret

import "github.com/google/uuid"

// legacyInputRoot is the root an execution's input was sealed under before
// it named its execution: what such a row holds authenticates its place in
// the input only.
const legacyInputRoot = "input"

// inputRoot names execution id's input in authenticated data, as
// nodes.<id>.data names a node's: a ciphertext of one execution's input
// does not open in another's, even at the same place.
func inputRoot(id uuid.UUID) string { return "executions." + id.String() + ".input" }

// SealInput returns execution id's input, as its client sent it, with its
// secrets (by name, header values, URL user information: no schema
// describes an input) sealed for storage. Like Seal, it keeps no value as
// already sealed: one that looks sealed reads back as sent.
func (b *Box) SealInput(id uuid.UUID, input map[string]any) (map[string]any, error) {
	return b.Seal(input, inputRoot(id), Policy{})
}

// OpenInput returns the stored input of execution id with its secrets
// opened. A row sealed before inputs named their execution opens as it was
// sealed (its values authenticate their place only); a row sealed for
// another execution does not open.
func (b *Box) OpenInput(id uuid.UUID, stored map[string]any) (map[string]any, error) {
	out, err := b.Open(stored, inputRoot(id))
	if err == nil {
		return out, nil
	}
	if legacy, lerr := b.Open(stored, legacyInputRoot); lerr == nil {
		return legacy, nil
	}
	return nil, err
}
