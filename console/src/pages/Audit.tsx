import { useState } from "react";
import { get, query, type AuditEvent, type Page } from "../api";
import { ErrorBox, Json, Pager, fmtTime, shortId, usePaged, EmptyRow } from "../ui";

type Verify = { isValid: boolean; totalChecked: number; message: string; firstInvalidId?: string; firstInvalidSequence?: number };

// The API's closed vocabularies (its OpenAPI AuditEventType, AuditAction and
// AuditResourceType enums; TestConsoleAuditFiltersMatchTheAPI compares them):
// a value outside them is a 400, so the filters offer no other.
const EVENT_TYPES = [
  "WORKFLOW_CREATED", "WORKFLOW_UPDATED", "WORKFLOW_ACTIVATED", "WORKFLOW_DEACTIVATED", "WORKFLOW_DRAFTED", "WORKFLOW_CLONED",
  "WORKFLOW_DELETED",
  "PROVIDER_CONFIG_CREATED", "PROVIDER_CONFIG_UPDATED", "PROVIDER_CONFIG_ENABLED", "PROVIDER_CONFIG_DISABLED",
  "PROVIDER_CONFIG_TESTED", "PROVIDER_CONFIG_DELETED",
  "EXECUTOR_CONFIG_CREATED", "EXECUTOR_CONFIG_UPDATED", "EXECUTOR_CONFIG_CONFIGURED", "EXECUTOR_CONFIG_TESTED",
  "EXECUTOR_CONFIG_MARKED_TESTED", "EXECUTOR_CONFIG_ACTIVATED", "EXECUTOR_CONFIG_DISABLED", "EXECUTOR_CONFIG_ENABLED",
  "EXECUTOR_CONFIG_DELETED",
  "EXECUTION_STARTED", "EXECUTION_COMPLETED", "EXECUTION_FAILED", "EXECUTION_CANCEL_REQUESTED", "EXECUTION_CANCELLED",
  "EXECUTION_RETRIED", "EXECUTIONS_ARCHIVED",
  "WAIT_OPENED", "WAIT_RESOLVED", "WAIT_FIRED", "WAIT_EXPIRED", "WAIT_CANCELLED", "REVIEW_DECISION", "SIGNAL_RECEIVED",
  "AUDIT_CHAIN_KEYED",
];
const ACTIONS = ["CREATE", "UPDATE", "DELETE", "ACTIVATE", "DEACTIVATE", "DRAFT", "EXECUTE", "ENABLE", "DISABLE", "TEST", "CONFIGURE", "CANCEL", "RETRY",
  "DECIDE", "SIGNAL", "EXPIRE", "ARCHIVE"];
const TYPES = ["workflow", "execution", "provider_config", "executor_config", "review", "wait", "execution_archive", "audit_chain"];

export function Audit() {
  const [f, setF] = useState({ eventType: "", action: "", result: "", resourceType: "", resourceId: "" });
  const resourceId = /^[0-9a-fA-F-]{36}$/.test(f.resourceId.trim()) ? f.resourceId.trim() : "";
  const params = query({ limit: 20, eventType: f.eventType, action: f.action, result: f.result, resourceType: f.resourceType, resourceId });
  const p = usePaged<AuditEvent>("/v1/audit-events", params, () => 0);
  const [open, setOpen] = useState<string>();
  const [verify, setVerify] = useState<Verify | null>(null);
  const [verifyErr, setVerifyErr] = useState<unknown>(null);
  const [verifying, setVerifying] = useState(false);

  // Verifies the whole chain: from the first event up to the newest one.
  const runVerify = async () => {
    setVerifying(true);
    setVerify(null);
    setVerifyErr(null);
    try {
      const latest = await get<Page<AuditEvent>>("/v1/audit-events?limit=1&sortOrder=DESC");
      if (latest.items.length === 0) {
        setVerify({ isValid: true, totalChecked: 0, message: "no audit events yet" });
        return;
      }
      setVerify(await get<Verify>(`/v1/audit-events/${latest.items[0].eventId}/verify`));
    } catch (e) {
      setVerifyErr(e);
    } finally {
      setVerifying(false);
    }
  };

  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  return (
    <section>
      <header className="page-head">
        <h1>Audit trail</h1>
        <div className="actions">
          <button className="primary" data-testid="verify-chain" disabled={verifying} onClick={() => void runVerify()}>
            Verify chain
          </button>
        </div>
      </header>
      {verify && (
        <div className={verify.isValid ? "ok" : "error"} data-testid="verify-result">
          <strong>{verify.isValid ? "Chain valid" : "Chain broken"}</strong> — {verify.message}; {verify.totalChecked} event(s) checked.
          {!verify.isValid && verify.firstInvalidId && (
            <div>
              First bad event: <span className="mono">{verify.firstInvalidId}</span> (sequence {verify.firstInvalidSequence})
            </div>
          )}
        </div>
      )}
      <ErrorBox error={verifyErr} />
      <div className="filters panel">
        <label>
          Event type{" "}
          <select value={f.eventType} onChange={set("eventType")} data-testid="audit-event-type">
            <option value="">any</option>
            {EVENT_TYPES.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          Action{" "}
          <select value={f.action} onChange={set("action")}>
            <option value="">any</option>
            {ACTIONS.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          Result{" "}
          <select value={f.result} onChange={set("result")}>
            <option value="">any</option>
            <option>SUCCESS</option>
            <option>FAILED</option>
          </select>
        </label>
        <label>
          Resource{" "}
          <select value={f.resourceType} onChange={set("resourceType")}>
            <option value="">any</option>
            {TYPES.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          Resource id <input value={f.resourceId} onChange={set("resourceId")} size={38} placeholder="UUID" />
        </label>
      </div>
      <ErrorBox error={p.error} />
      <table className="table" data-testid="audit-table">
        <thead>
          <tr>
            <th>#</th>
            <th>Time</th>
            <th>Event</th>
            <th>Result</th>
            <th>Resource</th>
            <th>Actor</th>
            <th>Hash</th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((e) => (
            <AuditRow key={e.eventId} e={e} open={open === e.eventId} toggle={() => setOpen(open === e.eventId ? undefined : e.eventId)} bad={verify?.firstInvalidId === e.eventId} />
          ))}
          <EmptyRow shown={p.loaded && p.items.length === 0} cols={7} text="No events." />
        </tbody>
      </table>
      <Pager p={p} />
    </section>
  );
}

function AuditRow({ e, open, toggle, bad }: { e: AuditEvent; open: boolean; toggle: () => void; bad: boolean }) {
  return (
    <>
      <tr className={"clickable" + (bad ? " bad" : "")} onClick={toggle}>
        <td>{e.sequence}</td>
        <td>{fmtTime(e.timestamp)}</td>
        <td>
          {e.eventType}
          <div className="muted small">{e.action}</div>
        </td>
        <td>
          <span className={"status status-" + (e.result === "SUCCESS" ? "completed" : "failed")}>{e.result}</span>
        </td>
        <td>
          {e.resourceType} <span className="mono muted">{shortId(e.resourceId)}</span>
        </td>
        <td>
          {e.actor.type}:{e.actor.id}
        </td>
        <td className="mono muted">{e.hash.slice(0, 12)}…</td>
      </tr>
      {open && (
        <tr>
          <td colSpan={7}>
            <Json value={e} />
          </td>
        </tr>
      )}
    </>
  );
}
