package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"github.com/google/uuid"
)

// Callback tokens (docs/waiting.md): a wait_for_callback node's URL carries
// a token naming its execution, signed for that execution and node with a
// key derived from the secret key. Nothing is stored: the token is checked
// by recomputing it, so a callback may arrive before its node is reached.
// Guessing one means forging a 160-bit HMAC.

const tokenMACSize = 20

// deriveKey derives a purpose-bound key from the secret key.
func deriveKey(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func (b *Box) callbackMAC(execID uuid.UUID, nodeID string) []byte {
	m := hmac.New(sha256.New, b.mac)
	m.Write([]byte("callback\x00"))
	m.Write(execID[:])
	m.Write([]byte(nodeID))
	return m.Sum(nil)[:tokenMACSize]
}

// CallbackToken is the token of node nodeID of execution execID.
func (b *Box) CallbackToken(execID uuid.UUID, nodeID string) string {
	return base64.RawURLEncoding.EncodeToString(append(execID[:], b.callbackMAC(execID, nodeID)...))
}

// CallbackExecution reads the execution a token names, unverified: the
// caller then checks it against each candidate node with CallbackFor.
func CallbackExecution(token string) (uuid.UUID, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 16+tokenMACSize {
		return uuid.Nil, false
	}
	id, err := uuid.FromBytes(raw[:16])
	return id, err == nil
}

// CallbackFor reports whether token is node nodeID's of execution execID,
// in constant time.
func (b *Box) CallbackFor(token string, execID uuid.UUID, nodeID string) bool {
	want := b.CallbackToken(execID, nodeID)
	return subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1
}
