package secret

import (
	"encoding/json"
	"errors"
	"reflect"

	"flowker/internal/flow"
)

// NodeSchema returns the JSON Schema of a node's data (its executor's or
// its trigger's in the catalog), or nil when none applies.
type NodeSchema func(flow.Node) json.RawMessage

func nodeRoot(n flow.Node) string { return "nodes." + n.ID + ".data" }

func nodePolicy(schema NodeSchema, n flow.Node) Policy {
	if schema == nil {
		return Policy{}
	}
	return SchemaPolicy(schema(n))
}

// SealNodes returns a copy of nodes whose data secrets are encrypted.
func (b *Box) SealNodes(nodes []flow.Node, schema NodeSchema) ([]flow.Node, error) {
	return mapNodes(nodes, func(n flow.Node) (map[string]any, error) {
		return b.Seal(n.Data, nodeRoot(n), nodePolicy(schema, n))
	})
}

// OpenNodes returns a copy of nodes whose data secrets are decrypted.
func (b *Box) OpenNodes(nodes []flow.Node) ([]flow.Node, error) {
	return mapNodes(nodes, func(n flow.Node) (map[string]any, error) { return b.Open(n.Data, nodeRoot(n)) })
}

// MaskNodes returns a copy of plaintext nodes with data secrets masked.
func MaskNodes(nodes []flow.Node, schema NodeSchema) []flow.Node {
	out, _ := mapNodes(nodes, func(n flow.Node) (map[string]any, error) {
		return Mask(n.Data, nodePolicy(schema, n)), nil
	})
	return out // masking never fails
}

// KeepMaskedNodes replaces masked secrets in update with the stored
// plaintext value of the node with the same id — unless the update sends
// them somewhere else: a node now calling another executor or
// configuration, or a URL moved (DestinationsMoved).
func KeepMaskedNodes(update, stored []flow.Node, schema NodeSchema) ([]flow.Node, error) {
	byID := make(map[string]flow.Node, len(stored))
	for _, n := range stored {
		byID[n.ID] = n
	}
	return mapNodes(update, func(n flow.Node) (map[string]any, error) {
		was := byID[n.ID].Data
		moved := DestinationsMoved(n.Data, was)
		for _, k := range nodeDestinations {
			// Any JSON value may stand there (a draft's checks are lax):
			// compared as values, never with == (a map would panic).
			moved = moved || !reflect.DeepEqual(n.Data[k], was[k])
		}
		d, err := keepMasked(n.Data, was, nodePolicy(schema, n), moved)
		var me *MaskedError
		if errors.As(err, &me) {
			me.Field = "nodes." + n.ID + ".data." + me.Field
		}
		return d, err
	})
}

// nodeDestinations are the node data keys that choose where its call, and
// its secrets with it, go.
var nodeDestinations = []string{"executorId", "providerConfigId", "executorConfigId"}

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
