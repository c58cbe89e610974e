import { useEffect, useState } from "react";
import { get } from "../api";
import { ErrorBox, Link } from "../ui";

type ExecSummary = Record<string, number>;
type WfSummary = { total: number; active: number; byStatus: { status: string; count: number }[] };

const ORDER = ["completed", "failed", "running", "pending", "cancelled"];

// The last 14 days, local midnight to the next, as inclusive RFC 3339
// bounds (the end widened to the store's microseconds, so the last instant
// before midnight is counted).
type Day = { label: string; from: string; to: string; total: number };
const DAYS = 14;

function lastDays(now: Date): Omit<Day, "total">[] {
  const out: Omit<Day, "total">[] = [];
  for (let i = DAYS - 1; i >= 0; i--) {
    const start = new Date(now.getFullYear(), now.getMonth(), now.getDate() - i);
    const next = new Date(start.getFullYear(), start.getMonth(), start.getDate() + 1);
    const label = `${start.getFullYear()}-${String(start.getMonth() + 1).padStart(2, "0")}-${String(start.getDate()).padStart(2, "0")}`;
    out.push({ label, from: start.toISOString(), to: new Date(next.getTime() - 1).toISOString().replace(/Z$/, "999Z") });
  }
  return out;
}

export function Dashboard() {
  const [ex, setEx] = useState<ExecSummary | null>(null);
  const [wf, setWf] = useState<WfSummary | null>(null);
  const [days, setDays] = useState<Day[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<ExecSummary>("/v1/dashboards/executions").then(setEx, setError);
    get<WfSummary>("/v1/dashboards/workflows/summary").then(setWf, setError);
    // The API counts by status over a range; one call per day (14 small
    // counts) draws the daily chart without a time-bucketed endpoint.
    Promise.all(
      lastDays(new Date()).map((d) =>
        get<ExecSummary>(
          `/v1/dashboards/executions?startTime=${encodeURIComponent(d.from)}&endTime=${encodeURIComponent(d.to)}`,
        ).then((c) => ({ ...d, total: c.total ?? 0 })),
      ),
    ).then(setDays, setError);
  }, []);
  const max = ex ? Math.max(1, ...ORDER.map((s) => ex[s] ?? 0)) : 1;
  const dayMax = days ? Math.max(1, ...days.map((d) => d.total)) : 1;
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
          <h3>Executions per day (last {DAYS} days)</h3>
          {days && (
            <div className="day-chart" data-testid="exec-per-day">
              {days.map((d) => (
                <Link
                  key={d.from}
                  to={`/console/executions?startedFrom=${encodeURIComponent(d.from)}&startedTo=${encodeURIComponent(d.to)}`}
                  className="day"
                >
                  <span className="day-value">{d.total}</span>
                  <span className="day-track" title={`${d.label}: ${d.total} executions`}>
                    <span className="day-bar" data-count={d.total} style={{ height: `${(d.total / dayMax) * 100}%` }} />
                  </span>
                  <span className="day-label">{Number(d.label.slice(8))}</span>
                </Link>
              ))}
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
