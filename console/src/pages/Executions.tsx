import { useState } from "react";
import { EXECUTION_STATUSES, terminal, type Execution } from "../api";
import { navigate } from "../router";
import { ErrorBox, Link, Pager, Status, fmtMs, fmtTime, shortId, usePaged, EmptyRow } from "../ui";

// A datetime-local value (the browser's local time, no offset) as RFC 3339
// UTC, which the API takes; "" when empty or not a valid time.
function localToUTC(v: string): string {
  if (!v) return "";
  const d = new Date(v); // a date-time without an offset is read as local time
  return isNaN(d.getTime()) ? "" : d.toISOString();
}

// An RFC 3339 time (from the page's URL) as a datetime-local value.
function utcToLocal(v: string | null): string {
  const d = v ? new Date(v) : null;
  if (!d || isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

type Filters = { workflowId: string; status: string; fromUTC: string; toUTC: string };

export function Executions({ search }: { search: URLSearchParams }) {
  const [workflowId, setWorkflowId] = useState(search.get("workflowId") ?? "");
  const [status, setStatus] = useState(search.get("status") ?? "");
  const [from, setFrom] = useState(utcToLocal(search.get("startedFrom")));
  const [to, setTo] = useState(utcToLocal(search.get("startedTo")));
  // What is sent: the URL's exact bound (a dashboard link's end of day is
  // 23:59:59.999999, finer than the input shows) until the input is edited.
  const [fromUTC, setFromUTC] = useState(localToUTC(from) && (search.get("startedFrom") ?? ""));
  const [toUTC, setToUTC] = useState(localToUTC(to) && (search.get("startedTo") ?? ""));
  const wf = /^[0-9a-fA-F-]{36}$/.test(workflowId.trim()) ? workflowId.trim() : "";
  const params =
    "?limit=20" +
    (wf ? `&workflowId=${wf}` : "") +
    (status ? `&status=${status}` : "") +
    (fromUTC ? `&startedFrom=${encodeURIComponent(fromUTC)}` : "") +
    (toUTC ? `&startedTo=${encodeURIComponent(toUTC)}` : "");
  // Refreshes every 2 s while an execution on the page is still running,
  // every 10 s while the unfinished ones all wait (for a review, a callback
  // or a timer, possibly for days).
  const p = usePaged<Execution>("/v1/executions", params, (items) => {
    const open = items.filter((e) => !terminal(e.status));
    return open.length === 0 ? 0 : open.every((e) => e.status === "waiting") ? 10000 : 2000;
  });
  const running = p.items.some((e) => !terminal(e.status));

  const apply = (f: Partial<Filters>) => {
    const next: Filters = { workflowId: wf, status, fromUTC, toUTC, ...f };
    const q = new URLSearchParams();
    if (next.workflowId) q.set("workflowId", next.workflowId);
    if (next.status) q.set("status", next.status);
    if (next.fromUTC) q.set("startedFrom", next.fromUTC);
    if (next.toUTC) q.set("startedTo", next.toUTC);
    const qs = q.toString();
    window.history.replaceState(null, "", "/console/executions" + (qs ? "?" + qs : ""));
  };

  return (
    <section>
      <header className="page-head">
        <h1>Executions</h1>
        <div className="filters">
          <label>
            Workflow id{" "}
            <input
              value={workflowId}
              placeholder="any workflow"
              size={38}
              onChange={(e) => {
                setWorkflowId(e.target.value);
                apply({ workflowId: e.target.value.trim() });
              }}
            />
          </label>
          <label>
            Status{" "}
            <select
              value={status}
              data-testid="status-filter"
              onChange={(e) => {
                setStatus(e.target.value);
                apply({ status: e.target.value });
              }}
            >
              <option value="">any</option>
              {EXECUTION_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Started from{" "}
            <input
              type="datetime-local"
              step={1}
              value={from}
              data-testid="started-from"
              onChange={(e) => {
                setFrom(e.target.value);
                setFromUTC(localToUTC(e.target.value));
                apply({ fromUTC: localToUTC(e.target.value) });
              }}
            />
          </label>
          <label>
            to{" "}
            <input
              type="datetime-local"
              step={1}
              value={to}
              data-testid="started-to"
              onChange={(e) => {
                setTo(e.target.value);
                setToUTC(localToUTC(e.target.value));
                apply({ toUTC: localToUTC(e.target.value) });
              }}
            />
          </label>
          {running && <span className="live">● auto-refreshing</span>}
        </div>
      </header>
      {workflowId.trim() && !wf && <div className="warn">The workflow id must be a UUID; the filter is ignored.</div>}
      <ErrorBox error={p.error} />
      <table className="table" data-testid="executions-table">
        <thead>
          <tr>
            <th>Execution</th>
            <th>Status</th>
            <th>Workflow</th>
            <th>Steps</th>
            <th>Started</th>
            <th>Duration</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((e) => (
            <tr key={e.executionId} className="clickable" onClick={() => navigate(`/console/executions/${e.executionId}`)}>
              <td>
                <Link to={`/console/executions/${e.executionId}`}>
                  <span className="mono">{shortId(e.executionId)}</span>
                </Link>
              </td>
              <td>
                <Status value={e.status} />
              </td>
              <td className="mono">
                <Link to={`/console/workflows/${e.workflowId}`}>{shortId(e.workflowId)}</Link>
                {e.workflowRevision ? <span className="muted"> r{e.workflowRevision}</span> : null}
              </td>
              <td>
                {e.currentStepNumber}/{e.totalSteps}
              </td>
              <td>{fmtTime(e.startedAt)}</td>
              <td>{e.completedAt ? fmtMs(new Date(e.completedAt).getTime() - new Date(e.startedAt).getTime()) : "—"}</td>
              <td className="error-text">{e.errorMessage ?? ""}</td>
            </tr>
          ))}
          <EmptyRow shown={p.loaded && p.items.length === 0} cols={7} text="No executions." />
        </tbody>
      </table>
      <Pager p={p} />
    </section>
  );
}
