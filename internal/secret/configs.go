package secret

import (
	"errors"

	"flowker/internal/flow"
)

// An executor configuration has two places for secrets: its
// authentication config (a document, policy auth) and its base URL, which
// is sealed whole when it carries user information.
const (
	executorAuthRoot = "authentication.config"
	executorURLRoot  = "executor"
	executorURLKey   = "baseUrl"
)

func urlDoc(u string) map[string]any { return map[string]any{executorURLKey: u} }

// SealExecutor encrypts e's secrets in place.
func (b *Box) SealExecutor(e *flow.ExecutorConfig, auth Policy) error {
	cfg, err := b.Seal(e.Authentication.Config, executorAuthRoot, auth)
	if err != nil {
		return err
	}
	u, err := b.Seal(urlDoc(e.BaseURL), executorURLRoot, Policy{})
	if err != nil {
		return err
	}
	e.Authentication.Config = cfg
	e.BaseURL, _ = u[executorURLKey].(string)
	return nil
}

// OpenExecutor decrypts a stored executor configuration's secrets in place.
func (b *Box) OpenExecutor(e *flow.ExecutorConfig) error {
	cfg, err := b.Open(e.Authentication.Config, executorAuthRoot)
	if err != nil {
		return err
	}
	u, err := b.Open(urlDoc(e.BaseURL), executorURLRoot)
	if err != nil {
		return err
	}
	e.Authentication.Config = cfg
	e.BaseURL, _ = u[executorURLKey].(string)
	return nil
}

// MaskExecutor masks a plaintext executor configuration's secrets in place.
func MaskExecutor(e *flow.ExecutorConfig, auth Policy) {
	e.Authentication.Config = Mask(e.Authentication.Config, auth)
	e.BaseURL, _ = Mask(urlDoc(e.BaseURL), Policy{})[executorURLKey].(string)
}

// KeepMaskedExecutor puts back, in the plaintext update, the stored secrets
// it holds masked. A *MaskedError names the field from the configuration's
// top (authentication.config.…, baseUrl).
//
// A masked secret is not kept when the update sends them somewhere else: a
// new baseUrl, or a new URL in the authentication config (DestinationsMoved).
// The baseUrls are compared as given: the caller trims both as a save
// does (flow.TrimBaseURL) first.
func KeepMaskedExecutor(update, stored *flow.ExecutorConfig, auth Policy) error {
	moved := DestinationsMoved(urlDoc(update.BaseURL), urlDoc(stored.BaseURL)) ||
		DestinationsMoved(update.Authentication.Config, stored.Authentication.Config)
	cfg, err := keepMasked(update.Authentication.Config, stored.Authentication.Config, auth, moved)
	var me *MaskedError
	if errors.As(err, &me) {
		me.Field = executorAuthRoot + "." + me.Field
	}
	if err != nil {
		return err
	}
	u, err := KeepMasked(urlDoc(update.BaseURL), urlDoc(stored.BaseURL), Policy{})
	if err != nil {
		return err
	}
	update.Authentication.Config = cfg
	update.BaseURL, _ = u[executorURLKey].(string)
	return nil
}
