package secret

import (
	"errors"

	"flowker/internal/flow"
)

// nodeFields are the secret fields of workflow node data: the built-in
// names (tokens, passwords, Authorization headers…) and webhook tokens.
var nodeFields = NewFields("verify_token")

func nodeRoot(n flow.Node) string { return "nodes." + n.ID + ".data" }

// SealNodes returns a copy of nodes whose data secrets are encrypted.
func (b *Box) SealNodes(nodes []flow.Node) ([]flow.Node, error) {
	return mapNodes(nodes, func(n flow.Node) (map[string]any, error) { return b.Seal(n.Data, nodeRoot(n), nodeFields) })
}

// OpenNodes returns a copy of nodes whose data secrets are decrypted.
func (b *Box) OpenNodes(nodes []flow.Node) ([]flow.Node, error) {
	return mapNodes(nodes, func(n flow.Node) (map[string]any, error) { return b.Open(n.Data, nodeRoot(n), nodeFields) })
}

// MaskNodes returns a copy of plaintext nodes with data secrets masked.
func MaskNodes(nodes []flow.Node) []flow.Node {
	out, _ := mapNodes(nodes, func(n flow.Node) (map[string]any, error) { return Mask(n.Data, nodeFields), nil })
	return out // masking never fails
}

// KeepMaskedNodes replaces masked secrets in update with the stored
// plaintext value of the node with the same id.
func KeepMaskedNodes(update, stored []flow.Node) ([]flow.Node, error) {
	byID := make(map[string]flow.Node, len(stored))
	for _, n := range stored {
		byID[n.ID] = n
	}
	return mapNodes(update, func(n flow.Node) (map[string]any, error) {
		d, err := KeepMasked(n.Data, byID[n.ID].Data, nodeFields)
		var me *MaskedError
		if errors.As(err, &me) {
			me.Field = "nodes." + n.ID + ".data." + me.Field
		}
		return d, err
	})
}

func mapNodes(nodes []flow.Node, f func(flow.Node) (map[string]any, error)) ([]flow.Node, error) {
	if nodes == nil {
		return nil, nil
	}
	out := make([]flow.Node, len(nodes))
	for i, n := range nodes {
		d, err := f(n)
		if err != nil {
			return nil, err
		}
		n.Data = d
		out[i] = n
	}
	return out, nil
}
