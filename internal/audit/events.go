package audit

import "slices"

// Event types: every eventType Flowker records, named here once. The audit
// list's eventType filter is closed over EventTypes (a misspelt type is a
// 400, not an empty page), and the OpenAPI AuditEventType enum and the
// list in docs/decisions.md say the same. TestEventTypesCoverEveryEmitter
// fails when the code records a type this list lacks.
const (
	WorkflowCreated     = "WORKFLOW_CREATED"
	WorkflowUpdated     = "WORKFLOW_UPDATED"
	WorkflowActivated   = "WORKFLOW_ACTIVATED"
	WorkflowDeactivated = "WORKFLOW_DEACTIVATED"
	WorkflowDrafted     = "WORKFLOW_DRAFTED"
	WorkflowCloned      = "WORKFLOW_CLONED"
	WorkflowDeleted     = "WORKFLOW_DELETED"

	ProviderConfigCreated  = "PROVIDER_CONFIG_CREATED"
	ProviderConfigUpdated  = "PROVIDER_CONFIG_UPDATED"
	ProviderConfigEnabled  = "PROVIDER_CONFIG_ENABLED"
	ProviderConfigDisabled = "PROVIDER_CONFIG_DISABLED"
	ProviderConfigTested   = "PROVIDER_CONFIG_TESTED"
	ProviderConfigDeleted  = "PROVIDER_CONFIG_DELETED"

	ExecutorConfigCreated      = "EXECUTOR_CONFIG_CREATED"
	ExecutorConfigUpdated      = "EXECUTOR_CONFIG_UPDATED"
	ExecutorConfigConfigured   = "EXECUTOR_CONFIG_CONFIGURED"
	ExecutorConfigTested       = "EXECUTOR_CONFIG_TESTED"        // the connectivity test ran (its result: SUCCESS or FAILED)
	ExecutorConfigMarkedTested = "EXECUTOR_CONFIG_MARKED_TESTED" // a passing test moved it to tested
	ExecutorConfigActivated    = "EXECUTOR_CONFIG_ACTIVATED"
	ExecutorConfigDisabled     = "EXECUTOR_CONFIG_DISABLED"
	ExecutorConfigEnabled      = "EXECUTOR_CONFIG_ENABLED"
	ExecutorConfigDeleted      = "EXECUTOR_CONFIG_DELETED"

	ExecutionStarted         = "EXECUTION_STARTED"
	ExecutionCompleted       = "EXECUTION_COMPLETED"
	ExecutionFailed          = "EXECUTION_FAILED"
	ExecutionCancelRequested = "EXECUTION_CANCEL_REQUESTED"
	ExecutionCancelled       = "EXECUTION_CANCELLED"
	ExecutionRetried         = "EXECUTION_RETRIED"
	ExecutionsArchived       = "EXECUTIONS_ARCHIVED" // a retention batch (docs/history.md)

	// The waits of executions: reviews, callbacks, signals and delays.
	WaitOpened     = "WAIT_OPENED"
	WaitResolved   = "WAIT_RESOLVED" // due, with a callback signal that came before its wait
	WaitFired      = "WAIT_FIRED"    // a delay's time came
	WaitExpired    = "WAIT_EXPIRED"  // a review or callback timed out
	WaitCancelled  = "WAIT_CANCELLED"
	ReviewDecision = "REVIEW_DECISION"
	SignalReceived = "SIGNAL_RECEIVED"
)

// eventTypes is the closed list, in the order the docs give it; the
// chain's own event, KeyedEventType, is defined beside the hash (audit.go).
var eventTypes = []string{
	WorkflowCreated, WorkflowUpdated, WorkflowActivated, WorkflowDeactivated, WorkflowDrafted, WorkflowCloned,
	WorkflowDeleted,
	ProviderConfigCreated, ProviderConfigUpdated, ProviderConfigEnabled, ProviderConfigDisabled,
	ProviderConfigTested, ProviderConfigDeleted,
	ExecutorConfigCreated, ExecutorConfigUpdated, ExecutorConfigConfigured, ExecutorConfigTested,
	ExecutorConfigMarkedTested, ExecutorConfigActivated, ExecutorConfigDisabled, ExecutorConfigEnabled,
	ExecutorConfigDeleted,
	ExecutionStarted, ExecutionCompleted, ExecutionFailed, ExecutionCancelRequested, ExecutionCancelled,
	ExecutionRetried, ExecutionsArchived,
	WaitOpened, WaitResolved, WaitFired, WaitExpired, WaitCancelled, ReviewDecision, SignalReceived,
	KeyedEventType,
}

// EventTypes returns every event type Flowker records (a copy).
func EventTypes() []string { return slices.Clone(eventTypes) }

// IsEventType reports whether s is one of EventTypes.
func IsEventType(s string) bool { return slices.Contains(eventTypes, s) }
