import { useState } from "react";
import type { Workflow } from "../api";
import { ErrorBox, Link, Pager, Status, fmtTime, usePaged } from "../ui";

export function Workflows() {
  const [status, setStatus] = useState("");
  const params = status ? `?limit=20&status=${status}` : "?limit=20";
  const p = usePaged<Workflow>("/v1/workflows", params, () => 0);
  return (
    <section>
      <header className="page-head">
        <h1>Workflows</h1>
        <div className="filters">
          <label>
            Status{" "}
            <select value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">any</option>
              <option value="draft">draft</option>
              <option value="active">active</option>
              <option value="inactive">inactive</option>
            </select>
          </label>
        </div>
      </header>
      <ErrorBox error={p.error} />
      <table className="table" data-testid="workflows-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            <th>Revision</th>
            <th>Nodes</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((w) => (
            <tr key={w.id}>
              <td>
                <Link to={`/console/workflows/${w.id}`}>{w.name}</Link>
                {w.description && <div className="muted small">{w.description}</div>}
              </td>
              <td>
                <Status value={w.status} />
              </td>
              <td>{w.revision}</td>
              <td>{w.nodes.length}</td>
              <td>{fmtTime(w.updatedAt)}</td>
            </tr>
          ))}
          {p.loaded && p.items.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No workflows.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager p={p} />
    </section>
  );
}
