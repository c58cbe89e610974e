package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"flowker/internal/config"
)

func TestLoadRetention(t *testing.T) {
	t.Parallel()
	load := func(kv map[string]string) (config.History, error) {
		c, err := config.Load(func(k string) string { return kv[k] })
		return c.History, err
	}
	h, err := load(map[string]string{"RETENTION_AGE": "400d", "RETENTION_ARCHIVE_DIR": "/archive",
		"RETENTION_INTERVAL": "15m", "RETENTION_BATCH_SIZE": "2000", "AUDIT_HEAD_LOG_INTERVAL": "0",
		"AUDIT_SEAL_UNKEYED_CHAIN": strings.Repeat("0A", 32)}) // as the operator may copy it
	require.NoError(t, err)
	require.Equal(t, config.History{RetentionAge: 400 * 24 * time.Hour, ArchiveDir: "/archive",
		RetentionInterval: 15 * time.Minute, RetentionBatchSize: 2000, SealUnkeyedAuditChain: strings.Repeat("0a", 32)}, h)
	h, err = load(map[string]string{"RETENTION_AGE": "2160h", "RETENTION_ARCHIVE_DIR": "/archive"})
	require.NoError(t, err)
	require.Equal(t, 90*24*time.Hour, h.RetentionAge)
	require.Equal(t, time.Minute, h.AuditHeadLogInterval, "the audit chain's head logged every minute by default")

	for kv, want := range map[[4]string]string{
		{"RETENTION_AGE", "12h", "RETENTION_ARCHIVE_DIR", "/a"}: "RETENTION_AGE is \"12h\"; must be at least 24h",
		{"RETENTION_AGE", "30d", "", ""}:                        "RETENTION_ARCHIVE_DIR must be set with RETENTION_AGE",
		{"RETENTION_ARCHIVE_DIR", "/a", "", ""}:                 "RETENTION_ARCHIVE_DIR is set but RETENTION_AGE is not",
		{"RETENTION_AGE", "x d", "RETENTION_ARCHIVE_DIR", "/a"}: "must be a number of days such as 400d",
		{"RETENTION_AGE", "1y", "RETENTION_ARCHIVE_DIR", "/a"}:  "RETENTION_AGE is \"1y\"; must be a duration",
		{"RETENTION_BATCH_SIZE", "0", "", ""}:                   "RETENTION_BATCH_SIZE is \"0\"; must be an integer from 1 to 10000",
		{"RETENTION_INTERVAL", "0s", "", ""}:                    "RETENTION_INTERVAL is \"0s\"; must be greater than 0",
		{"AUDIT_HEAD_LOG_INTERVAL", "-1m", "", ""}:              "AUDIT_HEAD_LOG_INTERVAL is \"-1m\"; must be a duration",
		{"AUDIT_SEAL_UNKEYED_CHAIN", "true", "", ""}:            "AUDIT_SEAL_UNKEYED_CHAIN is \"true\"; must be the 64 hexadecimal digits",
	} {
		_, err := load(map[string]string{kv[0]: kv[1], kv[2]: kv[3]})
		require.ErrorContains(t, err, want, kv)
	}
}
