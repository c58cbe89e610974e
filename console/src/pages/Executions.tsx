import { useState } from "react";
import { terminal, type Execution } from "../api";
import { navigate } from "../router";
import { ErrorBox, Link, Pager, Status, fmtMs, fmtTime, shortId, usePaged, EmptyRow } from "../ui";

export function Executions({ search }: { search: URLSearchParams }) {
  const [workflowId, setWorkflowId] = useState(search.get("workflowId") ?? "");
  const [status, setStatus] = useState(search.get("status") ?? "");
  const wf = /^[0-9a-fA-F-]{36}$/.test(workflowId.trim()) ? workflowId.trim() : "";
  const params = "?limit=20" + (wf ? `&workflowId=${wf}` : "") + (status ? `&status=${status}` : "");
  // Refreshes every 2 s while an execution on the page is still running.
  const p = usePaged<Execution>("/v1/executions", params, (items) => (items.some((e) => !terminal(e.status)) ? 2000 : 0));
  const running = p.items.some((e) => !terminal(e.status));

  const apply = (w: string, s: string) => {
    const q = new URLSearchParams();
    if (w) q.set("workflowId", w);
    if (s) q.set("status", s);
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
                apply(e.target.value.trim(), status);
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
                apply(wf, e.target.value);
              }}
            >
              <option value="">any</option>
              {["pending", "running", "completed", "failed", "cancelled"].map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
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
