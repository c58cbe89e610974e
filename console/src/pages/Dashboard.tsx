import { useEffect, useState } from "react";
import { get } from "../api";
import { ErrorBox, Link } from "../ui";

type ExecSummary = Record<string, number>;
type WfSummary = { total: number; active: number; byStatus: { status: string; count: number }[] };

const ORDER = ["completed", "failed", "running", "pending", "cancelled"];

export function Dashboard() {
  const [ex, setEx] = useState<ExecSummary | null>(null);
  const [wf, setWf] = useState<WfSummary | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<ExecSummary>("/v1/dashboards/executions").then(setEx, setError);
    get<WfSummary>("/v1/dashboards/workflows/summary").then(setWf, setError);
  }, []);
  const max = ex ? Math.max(1, ...ORDER.map((s) => ex[s] ?? 0)) : 1;
  return (
    <section>
      <header className="page-head">
        <h1>Dashboard</h1>
      </header>
      <ErrorBox error={error} />
      <div className="cards">
        <div className="panel card">
          <h3>Executions by status</h3>
          {ex && (
            <div className="bars" data-testid="exec-chart">
              {ORDER.map((s) => (
                <Link key={s} to={`/console/executions?status=${s}`} className="bar-row">
                  <span className="bar-label">{s}</span>
                  <span className="bar-track">
                    <span className={"bar status-bg-" + s} style={{ width: `${((ex[s] ?? 0) / max) * 100}%` }} />
                  </span>
                  <span className="bar-value">{ex[s] ?? 0}</span>
                </Link>
              ))}
              <div className="muted small">Total {ex.total ?? 0}</div>
            </div>
          )}
        </div>
        <div className="panel card">
          <h3>Workflows</h3>
          {wf && (
            <>
              <div className="big">{wf.total}</div>
              <div className="muted">{wf.active} active</div>
              <ul className="plain">
                {wf.byStatus.map((b) => (
                  <li key={b.status}>
                    {b.status}: {b.count}
                  </li>
                ))}
              </ul>
              <Link to="/console/workflows">Open workflows →</Link>
            </>
          )}
        </div>
      </div>
    </section>
  );
}
