// Package store defines the persistence contract: one Store interface that
// the SQLite and PostgreSQL implementations both satisfy and one conformance
// suite (storetest) proves alike. It holds no SQL and imports only flow.
package store

import (
	"context"

	"github.com/google/uuid"

	"flowker/internal/flow"
)

// Tx is every operation, usable inside a transaction or on its own.
// Writes on existing rows are conditional on the revision the caller read:
// a lost race is flow.ErrStateChanged, never a silent overwrite.
type Tx interface {
	CreateWorkflow(ctx context.Context, w *flow.Workflow) error
	GetWorkflow(ctx context.Context, id uuid.UUID) (*flow.Workflow, error)
	ListWorkflows(ctx context.Context, f flow.WorkflowFilter) (flow.Page[flow.Workflow], error)
	// UpdateWorkflow writes w if the stored revision is still prevRevision.
	UpdateWorkflow(ctx context.Context, w *flow.Workflow, prevRevision int) error
	// DeleteWorkflow removes the workflow if its revision is still prevRevision.
	DeleteWorkflow(ctx context.Context, id uuid.UUID, prevRevision int) error

	CreateProviderConfig(ctx context.Context, p *flow.ProviderConfig) error
	GetProviderConfig(ctx context.Context, id uuid.UUID) (*flow.ProviderConfig, error)
	ListProviderConfigs(ctx context.Context, f flow.ConfigFilter) (flow.Page[flow.ProviderConfig], error)
	UpdateProviderConfig(ctx context.Context, p *flow.ProviderConfig, prevRevision int) error
	DeleteProviderConfig(ctx context.Context, id uuid.UUID, prevRevision int) error

	CreateExecutorConfig(ctx context.Context, e *flow.ExecutorConfig) error
	GetExecutorConfig(ctx context.Context, id uuid.UUID) (*flow.ExecutorConfig, error)
	ListExecutorConfigs(ctx context.Context, f flow.ConfigFilter) (flow.Page[flow.ExecutorConfig], error)
	UpdateExecutorConfig(ctx context.Context, e *flow.ExecutorConfig, prevRevision int) error
	DeleteExecutorConfig(ctx context.Context, id uuid.UUID, prevRevision int) error
}

// Store is a database. InTx runs fn in one transaction, committed when fn
// returns nil; service methods put a change and its audit entry in one.
type Store interface {
	Tx
	InTx(ctx context.Context, fn func(Tx) error) error
	Ping(ctx context.Context) error
	Close() error
	// Driver names the database for health output: "sqlite" or "postgresql".
	Driver() string
}
