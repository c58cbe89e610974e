// Package secret protects secrets in stored documents (configurations,
// node data, execution input): it seals them with AES-256-GCM before they
// reach the database, masks them in every response, recognises a masked
// value sent back as "keep the stored one", and redacts step records and
// logs with the same rules. What is secret is decided by a Policy: the
// document's JSON Schema (writeOnly) where one describes a field, its name
// elsewhere, and always every header value not declared safe and every URL
// carrying user information. docs/security.md, "What is secret".
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// sealedPrefix marks an encrypted value; v1 = AES-256-GCM, nonce‖ciphertext.
const sealedPrefix = "enc:v1:"

// Box seals and opens values with one key, and signs tokens with a key
// derived from it (tokens.go).
type Box struct {
	aead cipher.AEAD
	mac  []byte
}

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead, mac: deriveKey(key, "flowker/tokens/v1")}, nil
}

// ParseKey decodes a key given as base64 (standard or URL) or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if k, err := dec(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("must be %d random bytes, base64- or hex-encoded (e.g. openssl rand -base64 32)", KeySize)
}

// LoadOrCreateKeyFile reads the key at path, or creates one (mode 0600)
// when the file does not exist: the embedded SQLite mode needs no setup.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // the path is ours: beside the database file
	if err == nil {
		return ParseKey(string(raw))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil { //nolint:gosec // see above
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // see above
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process created it first: use theirs
			return LoadOrCreateKeyFile(path)
		}
		return nil, err
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	return key, errors.Join(werr, f.Sync(), f.Close())
}

// sealValue encrypts v's JSON encoding; the field path is authenticated
// data, so a ciphertext cannot be moved to another field.
func (b *Box) sealValue(path string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, plain, []byte(path))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

func (b *Box) openValue(path, s string) (any, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, sealedPrefix))
	n := b.aead.NonceSize()
	if err != nil || len(raw) < n {
		return nil, fmt.Errorf("secret at %s: malformed ciphertext", path)
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(path))
	if err != nil {
		return nil, fmt.Errorf("secret at %s: cannot decrypt (wrong FLOWKER_SECRET_KEY?)", path)
	}
	var v any
	return v, json.Unmarshal(plain, &v)
}

// IsSealed reports whether v is a value this package encrypted.
func IsSealed(v any) bool {
	s, ok := v.(string)
	return ok && strings.HasPrefix(s, sealedPrefix)
}

// HoldsSealed reports whether v, a JSON-shaped value as stored, holds a
// sealed value anywhere: a secret of its own.
func HoldsSealed(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if HoldsSealed(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if HoldsSealed(e) {
				return true
			}
		}
	default:
		return IsSealed(v)
	}
	return false
}
