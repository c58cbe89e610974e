import { useState } from "react";
import { post, type TestResult } from "../api";
import { ErrorBox, Status, fmtMs, fmtTime } from "../ui";

const STAGE_NAMES: Record<string, string> = { connectivity: "Connectivity", authentication: "Authentication", end_to_end: "End to end" };

// ConnectivityTest runs POST {path} (a provider or executor configuration's
// /test) and lists its stages: each one's result, message or error, and time.
// disabled holds the button while the page changes the configuration: a test
// started meanwhile would test it as it was.
export function ConnectivityTest({ path, onDone, disabled }: { path: string; onDone?: (r: TestResult) => void; disabled?: boolean }) {
  const [result, setResult] = useState<TestResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await post<TestResult>(path);
      setResult(r);
      onDone?.(r);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="panel" data-testid="connectivity-test">
      <div className="panel-head">
        <h3>Connectivity test</h3>
        <button className="primary" data-testid="run-test" disabled={busy || disabled} onClick={() => void run()}>
          {busy ? "Testing…" : result ? "Test again" : "Test connectivity"}
        </button>
      </div>
      {!result && !error && <p className="muted small">Calls the provider from the server: reachability, then authentication, then one end-to-end request. Nothing is changed.</p>}
      <ErrorBox error={error} />
      {result && <TestStages result={result} />}
    </div>
  );
}

export function TestStages({ result }: { result: TestResult }) {
  return (
    <div data-testid="test-result">
      <div className={"test-summary test-" + result.overallStatus}>
        <Status value={result.overallStatus} /> {result.summary} · {fmtMs(result.durationMs)} · {fmtTime(result.completedAt)}
      </div>
      <ol className="stages">
        {result.stages.map((s) => (
          <li key={s.name} className={"stage stage-" + s.status} data-stage={s.name} data-status={s.status}>
            <span className="stage-mark" aria-hidden="true">
              {s.status === "passed" ? "✓" : s.status === "failed" ? "✕" : "–"}
            </span>
            <span className="stage-name">{STAGE_NAMES[s.name] ?? s.name}</span>
            <span className={"stage-text" + (s.error ? " error-text" : "")}>{s.error || s.message || ""}</span>
            <span className="stage-time">{s.status === "skipped" ? "" : fmtMs(s.durationMs)}</span>
            {s.details && Object.keys(s.details).length > 0 && (
              <span className="stage-details muted small">
                {Object.entries(s.details)
                  .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
                  .join(" · ")}
              </span>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
}
