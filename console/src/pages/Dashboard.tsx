import { useEffect, useState } from "react";
import { get, query } from "../api";
import { PERM, useCan } from "../session";
import { useOpenReviews } from "../lookup";
import { ErrorBox, Link, Since } from "../ui";

type ExecSummary = Record<string, number>;
type WfSummary = { total: number; active: number; byStatus: { status: string; count: number }[] };
type Bucket = { start: string; end: string; total: number; byStatus: Record<string, number> };
type Series = { interval: string; timezone: string; startTime: string; endTime: string; buckets: Bucket[] };

const ORDER = ["completed", "failed", "running", "waiting", "pending", "cancelled"];

// The chart's ranges: buckets of the browser's own time zone, from the
// start of the first hour or day to the end of the current one.
const RANGES = [
  { key: "24h", label: "Last 24 hours", interval: "hour", count: 24 },
  { key: "14d", label: "Last 14 days", interval: "day", count: 14 },
  { key: "90d", label: "Last 90 days", interval: "day", count: 90 },
] as const;
type Range = (typeof RANGES)[number];

function bounds(r: Range, now: Date): { start: Date; end: Date } {
  if (r.interval === "hour") {
    const end = new Date(now.getFullYear(), now.getMonth(), now.getDate(), now.getHours() + 1);
    return { start: new Date(end.getFullYear(), end.getMonth(), end.getDate(), end.getHours() - r.count), end };
  }
  const end = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  return { start: new Date(end.getFullYear(), end.getMonth(), end.getDate() - r.count), end };
}

export function timeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

// lastInstant is the inclusive end of a bucket for the executions filter:
// its end minus one microsecond (the store keeps microseconds).
function lastInstant(end: string): string {
  return new Date(Date.parse(end) - 1).toISOString().replace(/Z$/, "999Z");
}

export function Dashboard() {
  const can = useCan();
  const [ex, setEx] = useState<ExecSummary | null>(null);
  const [wf, setWf] = useState<WfSummary | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<ExecSummary>("/v1/dashboards/executions").then(setEx, setError);
    get<WfSummary>("/v1/dashboards/workflows/summary").then(setWf, setError);
  }, []);
  const max = ex ? Math.max(1, ...ORDER.map((s) => ex[s] ?? 0)) : 1;
  const listExecutions = can(PERM.executionsRead);
  return (
    <section>
      <header className="page-head">
        <h1>Dashboard</h1>
      </header>
      <ErrorBox error={error} />
      <SeriesChart />
      <div className="cards">
        <div className="panel card">
          <h3>Executions by status (all time)</h3>
          {ex && (
            <div className="bars" data-testid="exec-chart">
              {ORDER.map((s) => {
                const row = (
                  <>
                    <span className="bar-label">{s}</span>
                    <span className="bar-track">
                      <span className={"bar status-bg-" + s} style={{ width: `${((ex[s] ?? 0) / max) * 100}%` }} />
                    </span>
                    <span className="bar-value">{(ex[s] ?? 0).toLocaleString()}</span>
                  </>
                );
                return listExecutions ? (
                  <Link key={s} to={`/console/executions?status=${s}`} className="bar-row">
                    {row}
                  </Link>
                ) : (
                  <div key={s} className="bar-row">
                    {row}
                  </div>
                );
              })}
              <div className="muted small">Total {(ex.total ?? 0).toLocaleString()}</div>
            </div>
          )}
        </div>
        <div>
        {can(PERM.reviewsRead) && <ReviewsCard />}
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
              {can(PERM.workflowsRead) && <Link to="/console/workflows">Open workflows →</Link>}
            </>
          )}
        </div>
        </div>
      </div>
    </section>
  );
}

// ReviewsCard: how many reviews wait for a decision, and for how long the
// oldest has (the header badge's look-up).
function ReviewsCard() {
  const open = useOpenReviews(true);
  return (
    <div className="panel card" data-testid="reviews-card">
      <h3>Reviews waiting for a decision</h3>
      {open && (
        <>
          <div className="big">{open.more ? `${open.count}+` : open.count}</div>
          <div className="muted">{open.oldest ? <>the oldest opened <Since time={open.oldest} /> ago</> : "nothing waits for an analyst"}</div>
          <p>
            <Link to="/console/reviews">Open the inbox →</Link>
          </p>
        </>
      )}
    </div>
  );
}

// SeriesChart: executions per hour or day as bars stacked by status, one
// call to /v1/dashboards/executions/series in the browser's time zone; a
// bar opens the executions list filtered to its bucket.
function SeriesChart() {
  const can = useCan();
  const [range, setRange] = useState<Range>(RANGES[1]);
  const [series, setSeries] = useState<Series | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const { start, end } = bounds(range, new Date());
    const q = query({ startTime: start.toISOString(), endTime: end.toISOString(), interval: range.interval, timezone: timeZone() });
    let live = true;
    get<Series>("/v1/dashboards/executions/series" + q).then(
      (s) => live && (setSeries(s), setError(null)),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [range]);
  const buckets = series?.buckets ?? [];
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const total = buckets.reduce((n, b) => n + b.total, 0);
  const failed = buckets.reduce((n, b) => n + (b.byStatus.failed ?? 0), 0);
  const hourly = range.interval === "hour";
  const label = (b: Bucket, i: number) => {
    const d = new Date(b.start);
    if (hourly) return i % 3 === 0 ? String(d.getHours()).padStart(2, "0") + ":00" : "";
    // Every day when there is room, else Mondays only.
    return buckets.length <= 31 || d.getDay() === 1 ? d.toLocaleDateString(undefined, { day: "numeric", month: "short" }) : "";
  };
  const title = (b: Bucket) => {
    const d = new Date(b.start);
    const when = hourly ? d.toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" });
    const parts = ORDER.filter((s) => b.byStatus[s]).map((s) => `${b.byStatus[s]} ${s}`);
    return `${when}: ${b.total} execution${b.total === 1 ? "" : "s"}${parts.length ? " (" + parts.join(", ") + ")" : ""}`;
  };
  return (
    <div className="panel series">
      <div className="panel-head">
        <div>
          <h3>Executions over time</h3>
          {series && (
            <div className="muted small" data-testid="series-summary">
              {total.toLocaleString()} executions · {failed.toLocaleString()} failed · per {range.interval} · {series.timezone}
            </div>
          )}
        </div>
        <div className="segmented" role="group" aria-label="Range" data-testid="series-range">
          {RANGES.map((r) => (
            <button key={r.key} className={r.key === range.key ? "active" : ""} data-range={r.key} onClick={() => setRange(r)}>
              {r.label}
            </button>
          ))}
        </div>
      </div>
      <ErrorBox error={error} />
      {series && (
        <>
          <div className="series-chart" data-testid="exec-series" data-interval={series.interval} style={{ gridTemplateColumns: `40px repeat(${buckets.length}, minmax(0, 1fr))` }}>
            <div className="series-axis">
              <span>{max}</span>
              <span>{Math.round(max / 2)}</span>
              <span>0</span>
            </div>
            {buckets.map((b, i) => {
              const stack = (
                <>
                  <span className="series-track">
                    {ORDER.filter((s) => b.byStatus[s]).map((s) => (
                      <span key={s} className={"series-seg status-bg-" + s} data-status={s} style={{ height: `${(b.byStatus[s] / max) * 100}%` }} />
                    ))}
                  </span>
                  <span className="series-label">{label(b, i)}</span>
                </>
              );
              const props = { className: "series-bar", "data-count": b.total, "data-start": b.start, title: title(b) };
              return can(PERM.executionsRead) ? (
                <Link key={b.start} {...props} to={`/console/executions?startedFrom=${encodeURIComponent(new Date(b.start).toISOString())}&startedTo=${encodeURIComponent(lastInstant(b.end))}`}>
                  {stack}
                </Link>
              ) : (
                <span key={b.start} {...props}>
                  {stack}
                </span>
              );
            })}
          </div>
          <div className="legend series-legend">
            {ORDER.map((s) => (
              <span key={s}>
                <span className={"swatch status-bg-" + s} /> {s}
              </span>
            ))}
          </div>
        </>
      )}
    </div>
  );
}
