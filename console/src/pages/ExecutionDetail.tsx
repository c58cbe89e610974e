import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { get, post, terminal, traceURL, type Execution, type Results, type Step, type Workflow } from "../api";
import { Graph, type NodeState } from "../components/Graph";
import { Timeline } from "../components/Timeline";
import { ErrorBox, Json, Link, Status, fmtMs, fmtTime } from "../ui";

// nodeStates colours the graph: a node takes the status of its last step;
// the trigger counts as completed once the execution started; while the
// execution runs, a node without a step whose predecessors are all done is
// running.
function nodeStates(wf: Workflow, r: Results): Map<string, NodeState> {
  const m = new Map<string, NodeState>();
  for (const s of r.stepResults) m.set(s.nodeId, s.status);
  for (const n of wf.nodes) if (n.type === "trigger") m.set(n.id, "completed");
  const live = !terminal(r.status);
  for (const n of wf.nodes) {
    if (m.has(n.id)) continue;
    const preds = wf.edges.filter((e) => e.target === n.id).map((e) => e.source);
    const ready = preds.length > 0 && preds.every((p) => m.get(p) === "completed");
    m.set(n.id, live && ready ? "running" : "not reached");
  }
  return m;
}

export function ExecutionDetail({ id }: { id: string }) {
  const [res, setRes] = useState<Results | null>(null);
  const [wf, setWf] = useState<Workflow | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string>();
  const [busy, setBusy] = useState(false);
  const wfLoaded = useRef("");
  const [trace, setTrace] = useState("");

  // The trace link (when CONSOLE_TRACE_URL_TEMPLATE is set and the
  // execution was started within a trace).
  useEffect(() => {
    get<Execution>(`/v1/executions/${encodeURIComponent(id)}`).then(
      (e) => setTrace(traceURL(e.traceId)),
      () => setTrace(""),
    );
  }, [id]);

  const load = useCallback(async () => {
    try {
      const r = await get<Results>(`/v1/executions/${encodeURIComponent(id)}/results`);
      setRes(r);
      setError(null);
      if (wfLoaded.current !== r.workflowId) {
        wfLoaded.current = r.workflowId;
        get<Workflow>(`/v1/workflows/${encodeURIComponent(r.workflowId)}`).then(setWf, setError);
      }
    } catch (e) {
      setError(e);
    }
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  const live = res ? !terminal(res.status) : false;
  useEffect(() => {
    if (!live) return;
    const t = window.setInterval(() => void load(), 1000);
    return () => window.clearInterval(t);
  }, [live, load]);

  const states = useMemo(() => (wf && res ? nodeStates(wf, res) : undefined), [wf, res]);

  const act = async (what: "cancel" | "retry") => {
    setBusy(true);
    try {
      await post(`/v1/executions/${encodeURIComponent(id)}/${what}`);
      await load();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (!res) return <section>{error ? <ErrorBox error={error} /> : <p className="muted">Loading…</p>}</section>;
  const total = res.completedAt ? new Date(res.completedAt).getTime() - new Date(res.startedAt).getTime() : undefined;
  const selSteps = res.stepResults.filter((s) => s.nodeId === selected);
  const selNode = wf?.nodes.find((n) => n.id === selected);
  return (
    <section>
      <header className="page-head">
        <div>
          <div className="crumbs">
            <Link to="/console/executions">Executions</Link> /
          </div>
          <h1>
            Execution <span className="mono">{res.executionId}</span>
          </h1>
          <div className="muted small">
            <span data-testid="execution-status">
              <Status value={res.status} />
            </span>{" "}
            workflow{" "}
            <Link to={`/console/workflows/${res.workflowId}`}>{wf ? wf.name : res.workflowId}</Link> · started {fmtTime(res.startedAt)}
            {total !== undefined && <> · took {fmtMs(total)}</>}
            {live && <span className="live"> ● live</span>}
            {trace && (
              <>
                {" · "}
                <a href={trace} target="_blank" rel="noopener noreferrer" data-testid="trace-link">
                  Trace ↗
                </a>
              </>
            )}
          </div>
        </div>
        <div className="actions">
          {live && (
            <button className="danger" data-testid="cancel" disabled={busy} onClick={() => void act("cancel")}>
              Cancel
            </button>
          )}
          {(res.status === "failed" || res.status === "cancelled") && (
            <button data-testid="retry" disabled={busy} onClick={() => void act("retry")}>
              Retry
            </button>
          )}
        </div>
      </header>
      <ErrorBox error={error} />
      {res.errorMessage && (
        <div className="error" data-testid="execution-error">
          {res.errorMessage}
        </div>
      )}
      <div className="split">
        <div className="panel graph-panel">
          {wf ? <Graph nodes={wf.nodes} edges={wf.edges} states={states} selected={selected} onSelect={setSelected} /> : <p className="muted">Loading graph…</p>}
          <Legend />
        </div>
        <aside className="panel side">
          {selected ? (
            <>
              <h3>{selNode?.name || selected}</h3>
              <div className="muted small">
                {selNode?.type} · {states?.get(selected) ?? ""}
              </div>
              {selSteps.length === 0 && <p className="muted">This node has no step in this execution.</p>}
              {selSteps.map((s) => (
                <StepView key={s.stepNumber} s={s} />
              ))}
            </>
          ) : (
            <p className="muted">Select a node or a timeline row to see its input, output, call and error.</p>
          )}
        </aside>
      </div>
      <div className="panel">
        <h3>Timeline</h3>
        <Timeline steps={res.stepResults} selected={selected} onSelect={setSelected} />
      </div>
      <div className="panel">
        <h3>Final output</h3>
        <div data-testid="final-output">
          <Json value={res.finalOutput} />
        </div>
      </div>
    </section>
  );
}

function StepView({ s }: { s: Step }) {
  return (
    <div className="step" data-testid={"step-" + s.nodeId}>
      <div>
        Step {s.stepNumber} <Status value={s.status} /> · {fmtTime(s.executedAt)} · {fmtMs(s.durationMs)}
        {s.attempts ? ` · ${s.attempts} attempt${s.attempts > 1 ? "s" : ""}` : ""}
      </div>
      {s.errorMessage && (
        <>
          <h4>Error</h4>
          <div className="error step-error">{s.errorMessage}</div>
        </>
      )}
      <h4>Input</h4>
      <Json value={s.input} />
      <h4>Output</h4>
      <Json value={s.output} />
      {s.callDetails && (
        <>
          <h4>Call</h4>
          <Json value={s.callDetails} />
        </>
      )}
    </div>
  );
}

function Legend() {
  return (
    <div className="legend">
      {["completed", "failed", "running", "skipped", "not reached"].map((s) => (
        <span key={s}>
          <span className={"dot fk-state-" + s.replace(/ /g, "")} /> {s}
        </span>
      ))}
    </div>
  );
}
