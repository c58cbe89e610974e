package flow

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ConfigStatus is the lifecycle state of a provider or executor configuration.
type ConfigStatus string

// Provider configurations are active or disabled; executor configurations
// move unconfigured → configured → tested → active ⇄ disabled.
const (
	ConfigActive       ConfigStatus = "active"
	ConfigDisabled     ConfigStatus = "disabled"
	ConfigUnconfigured ConfigStatus = "unconfigured"
	ConfigConfigured   ConfigStatus = "configured"
	ConfigTested       ConfigStatus = "tested"
)

// ProviderConfig is a stored instance of a catalog provider's settings:
// URLs and credentials. Secret fields of Config are sealed at rest.
type ProviderConfig struct {
	ID          uuid.UUID
	Name        string
	Description string
	ProviderID  string
	Config      map[string]any
	Status      ConfigStatus
	Metadata    map[string]any
	Revision    int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Provider configuration errors, with the reference's codes.
var (
	ErrProviderConfigNotFound = &Error{Kind: KindNotFound, Code: "FLK-0290", Message: "provider configuration not found"}
	ErrProviderConfigNameUsed = &Error{Kind: KindConflict, Code: "FLK-0291", Message: "provider configuration name already exists"}
)

// ValidateProviderConfig checks the fields the domain owns; the provider's
// JSON Schema is checked by the caller, which knows the catalog.
func ValidateProviderConfig(p *ProviderConfig) error {
	if strings.TrimSpace(p.Name) == "" {
		return Invalidf("FLK-0295", "name is required")
	}
	if len(p.Name) > MaxNameLen {
		return Invalidf("FLK-0296", "name cannot exceed %d characters", MaxNameLen)
	}
	if len(p.Description) > MaxDescriptionLen {
		return Invalidf("FLK-0299", "description cannot exceed %d characters", MaxDescriptionLen)
	}
	if len(p.Config) == 0 {
		return Invalidf("FLK-0298", "config is required and cannot be empty")
	}
	return ValidateMetadata(p.Metadata)
}

// CheckProviderURLs refuses a provider configuration whose URL fields are
// not http or https URLs with a host (checkURLFields); the caller runs it
// after the provider's schema, which refuses what is no URL at all (422).
func CheckProviderURLs(p *ProviderConfig) error { return checkURLFields("config", p.Config) }

// checkURLFields refuses a URL field ("url" or a key ending in "_url":
// base_url, token_url, issuer_url, …, at any depth of cfg but static
// headers) that is not an http or https URL with a host: calls, token
// requests and discovery go over HTTP only (a file: or ftp: URL reaches no
// provider, or something else). prefix names cfg in the message. Other
// types are left to the schema.
func checkURLFields(prefix string, cfg map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		field := prefix + "." + k
		switch v := cfg[k].(type) {
		case map[string]any:
			if k == "headers" {
				continue // header values, whatever their names
			}
			if err := checkURLFields(field, v); err != nil {
				return err
			}
		case string:
			if lk := strings.ToLower(k); lk != "url" && !strings.HasSuffix(lk, "_url") {
				continue
			}
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return Invalidf("FLK-0263", "%s must be an http or https URL with a host (got %q)", field, v)
			}
		}
	}
	return nil
}

// SetStatus enables or disables a provider configuration.
func (p *ProviderConfig) SetStatus(to ConfigStatus, now time.Time) error {
	from := map[ConfigStatus]ConfigStatus{ConfigActive: ConfigDisabled, ConfigDisabled: ConfigActive}[to]
	if p.Status != from {
		return Errorf(KindUnprocessable, "FLK-0292",
			"cannot modify provider configuration in current status: it is %s, and only a %s configuration can become %s",
			p.Status, from, to)
	}
	p.Status = to
	p.Touch(now)
	return nil
}

// Touch records a change.
func (p *ProviderConfig) Touch(now time.Time) {
	p.Revision++
	p.UpdatedAt = now
}

// ExecutorConfig is a user-defined HTTP executor: a base URL, named
// endpoints and authentication. Secret fields of Authentication.Config are
// sealed at rest. Only an active one may run.
type ExecutorConfig struct {
	ID             uuid.UUID
	Name           string
	Description    string
	BaseURL        string
	Endpoints      []Endpoint
	Authentication Authentication
	Status         ConfigStatus
	Metadata       map[string]any
	Revision       int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastTestedAt   *time.Time
}

// Endpoint is one callable operation of an executor configuration.
type Endpoint struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Method  string `json:"method"`
	Timeout int    `json:"timeout"` // seconds
}

// Authentication says how to authenticate to an executor's base URL.
type Authentication struct {
	Type   string         `json:"type"`
	Config map[string]any `json:"config,omitempty"`
}

// Executor configuration limits.
const (
	MaxBaseURLLen       = 500
	MaxEndpoints        = 50
	DefaultEndpointSecs = 30
	MaxEndpointSecs     = 300
)

// AuthTypes are the authentication types an executor configuration may use.
var AuthTypes = []string{"none", "api_key", "bearer", "basic", "oauth2_client_credentials",
	"oidc_client_credentials", "oidc_user"}

var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// Executor configuration errors.
var (
	ErrExecutorConfigNotFound = &Error{Kind: KindNotFound, Code: "FLK-0250", Message: "executor configuration not found"}
	ErrExecutorConfigNameUsed = &Error{Kind: KindConflict, Code: "FLK-0251", Message: "executor configuration name already exists"}
)

// NormalizeExecutorConfig validates e and normalises it in place: methods
// upper-cased, default timeouts, the base URL's trailing slashes dropped.
func NormalizeExecutorConfig(e *ExecutorConfig) error {
	if strings.TrimSpace(e.Name) == "" {
		return Invalidf("FLK-0260", "name is required")
	}
	if len(e.Name) > MaxNameLen {
		return Invalidf("FLK-0261", "name cannot exceed %d characters", MaxNameLen)
	}
	if len(e.Description) > MaxDescriptionLen {
		return Invalidf("FLK-0267", "description cannot exceed %d characters", MaxDescriptionLen)
	}
	if err := normalizeBaseURL(e); err != nil {
		return err
	}
	if len(e.Endpoints) == 0 {
		return Invalidf("FLK-0265", "at least one endpoint is required")
	}
	if len(e.Endpoints) > MaxEndpoints {
		return Invalidf("FLK-0265", "cannot exceed %d endpoints", MaxEndpoints)
	}
	seen := map[string]bool{}
	for i := range e.Endpoints {
		if err := normalizeEndpoint(&e.Endpoints[i], seen); err != nil {
			return err
		}
	}
	if e.Authentication.Type == "" {
		return Invalidf("FLK-0268", "authentication type is required (use \"none\" for no authentication)")
	}
	if !slices.Contains(AuthTypes, e.Authentication.Type) {
		return Invalidf("FLK-0269", "authentication type must be one of %s", strings.Join(AuthTypes, ", "))
	}
	return ValidateMetadata(e.Metadata)
}

func normalizeBaseURL(e *ExecutorConfig) error {
	if e.BaseURL == "" {
		return Invalidf("FLK-0262", "baseUrl is required")
	}
	if len(e.BaseURL) > MaxBaseURLLen {
		return Invalidf("FLK-0264", "baseUrl cannot exceed %d characters", MaxBaseURLLen)
	}
	u, err := url.Parse(e.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return Invalidf("FLK-0263", "baseUrl must be an http or https URL with a host and no credentials")
	}
	e.BaseURL = TrimBaseURL(e.BaseURL)
	return nil
}

// TrimBaseURL is a base URL as it is saved: every trailing slash dropped,
// so that saving it again changes nothing (one dropped per save read
// "…/v1//", sent back as read, as a move; found by a review). A call
// joins the path with one slash whatever the base ended with.
func TrimBaseURL(s string) string { return strings.TrimRight(s, "/") }

func normalizeEndpoint(ep *Endpoint, seen map[string]bool) error {
	if strings.TrimSpace(ep.Name) == "" {
		return Invalidf("FLK-0270", "endpoint name is required")
	}
	if seen[ep.Name] {
		return Invalidf("FLK-0274", "endpoint %q is defined twice", ep.Name)
	}
	seen[ep.Name] = true
	if ep.Path == "" {
		return Invalidf("FLK-0271", "endpoint %q: path is required", ep.Name)
	}
	if !strings.HasPrefix(ep.Path, "/") {
		return Invalidf("FLK-0271", "endpoint %q: path must start with /", ep.Name)
	}
	if ep.Method == "" {
		return Invalidf("FLK-0272", "endpoint %q: method is required", ep.Name)
	}
	ep.Method = strings.ToUpper(ep.Method)
	if !slices.Contains(httpMethods, ep.Method) {
		return Invalidf("FLK-0273", "endpoint %q: method must be one of %s", ep.Name, strings.Join(httpMethods, ", "))
	}
	if ep.Timeout == 0 {
		ep.Timeout = DefaultEndpointSecs
	}
	if ep.Timeout < 1 || ep.Timeout > MaxEndpointSecs {
		return Invalidf("FLK-0275", "endpoint %q: timeout must be 1-%d seconds", ep.Name, MaxEndpointSecs)
	}
	return nil
}

// executorTransitions lists, for each action, the states it starts from
// and the state it leads to.
var executorTransitions = map[string]struct {
	from []ConfigStatus
	to   ConfigStatus
}{
	"configure": {[]ConfigStatus{ConfigUnconfigured}, ConfigConfigured},
	"test":      {[]ConfigStatus{ConfigConfigured}, ConfigTested},
	"activate":  {[]ConfigStatus{ConfigTested}, ConfigActive},
	"disable":   {[]ConfigStatus{ConfigActive}, ConfigDisabled},
	"enable":    {[]ConfigStatus{ConfigDisabled}, ConfigActive},
}

// ErrExecutorState is the 422 for an action the state machine forbids; it
// names the current status and, for a transition, the wanted one (to; empty
// for update and delete).
func ErrExecutorState(action string, from, to ConfigStatus, allowed []ConfigStatus) *Error {
	names := make([]string, len(allowed))
	for i, s := range allowed {
		names[i] = string(s)
	}
	const prefix = "cannot modify executor configuration in current status: "
	if to != "" {
		return Errorf(KindUnprocessable, "FLK-0252",
			prefix+"cannot %s an executor configuration that is %s: it becomes %s only from %s",
			action, from, to, strings.Join(names, " or "))
	}
	return Errorf(KindUnprocessable, "FLK-0252",
		prefix+"cannot %s an executor configuration that is %s (allowed from: %s)",
		action, from, strings.Join(names, ", "))
}

// Apply performs a lifecycle action: configure, test, activate, disable, enable.
func (e *ExecutorConfig) Apply(action string, now time.Time) error {
	t := executorTransitions[action]
	if !slices.Contains(t.from, e.Status) {
		return ErrExecutorState(action, e.Status, t.to, t.from)
	}
	e.Status = t.to
	if t.to == ConfigTested {
		e.LastTestedAt = &now
	}
	e.Touch(now)
	return nil
}

// CheckEditable allows updates only before the configuration was tested.
func (e *ExecutorConfig) CheckEditable(action string) error {
	allowed := []ConfigStatus{ConfigUnconfigured, ConfigConfigured}
	if action == "delete" {
		allowed = append(allowed, ConfigDisabled)
	}
	if !slices.Contains(allowed, e.Status) {
		return ErrExecutorState(action, e.Status, "", allowed)
	}
	return nil
}

// Touch records a change.
func (e *ExecutorConfig) Touch(now time.Time) {
	e.Revision++
	e.UpdatedAt = now
}

// Endpoint returns the named endpoint.
func (e *ExecutorConfig) Endpoint(name string) (Endpoint, bool) {
	for _, ep := range e.Endpoints {
		if ep.Name == name {
			return ep, true
		}
	}
	return Endpoint{}, false
}

// ConfigFilter selects provider or executor configurations for a list.
type ConfigFilter struct {
	Status     ConfigStatus
	ProviderID string // provider configurations only
	Name       string // exact match: "get by name"
	Page       PageRequest
}

// ConfigSorts are the columns a configuration list may be ordered by.
var ConfigSorts = WorkflowSorts
