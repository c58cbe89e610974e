import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { WAIT_TYPES, approvals, errorText, get, post, terminal, traceURL, type Execution, type Page, type Results, type Review, type Step, type WfNode, type Workflow } from "../api";
import { Graph, type NodeState } from "../components/Graph";
import { waitFacts } from "../components/NodeDetails";
import { Timeline } from "../components/Timeline";
import { PERM, useCan } from "../session";
import { Due, ErrorBox, Facts, Json, Link, Since, Status, fmtMs, fmtTime } from "../ui";

// nodeStates colours the graph from the steps and the execution's status:
// a node takes the status of its last step; the trigger counts as completed
// once the execution started; while the execution is not finished, a node
// without a step whose predecessors are all done is waiting when it is a
// review, wait_for_callback or delay node (its wait is open), else running.
// A waiting execution runs nothing: its other nodes are not reached yet.
function nodeStates(wf: Workflow, r: Results): Map<string, NodeState> {
  const m = new Map<string, NodeState>();
  for (const s of r.stepResults) m.set(s.nodeId, s.status);
  for (const n of wf.nodes) if (n.type === "trigger") m.set(n.id, "completed");
  const live = !terminal(r.status);
  for (const n of wf.nodes) {
    if (m.has(n.id)) continue;
    const preds = wf.edges.filter((e) => e.target === n.id).map((e) => e.source);
    const ready = live && preds.length > 0 && preds.every((p) => m.get(p) === "completed");
    m.set(n.id, !ready ? "not reached" : WAIT_TYPES.includes(n.type) ? "waiting" : r.status === "waiting" ? "not reached" : "running");
  }
  return m;
}

// useWaitingReviews finds the reviews of this execution's waiting review
// nodes: GET /v1/reviews?status=open&executionId=… (one page: an execution
// has one open review per review node), again every 5 s while it waits.
// Keyed by node id.
function useWaitingReviews(executionId: string, nodes: string[], enabled: boolean): Map<string, Review> {
  const [found, setFound] = useState<Map<string, Review>>(new Map());
  const key = nodes.join(",");
  useEffect(() => {
    if (!enabled || !key) {
      setFound(new Map());
      return;
    }
    let live = true;
    const wanted = key.split(",");
    const look = async () => {
      const p = await get<Page<Review>>(`/v1/reviews?status=open&limit=100&executionId=${encodeURIComponent(executionId)}`);
      const m = new Map<string, Review>();
      for (const r of p.items) if (wanted.includes(r.nodeId)) m.set(r.nodeId, r);
      if (live) setFound(m);
    };
    void look().catch(() => undefined);
    const t = window.setInterval(() => void look().catch(() => undefined), 5000);
    return () => {
      live = false;
      window.clearInterval(t);
    };
  }, [executionId, key, enabled]);
  return found;
}

export function ExecutionDetail({ id }: { id: string }) {
  const can = useCan();
  const readWorkflows = can(PERM.workflowsRead);
  const [res, setRes] = useState<Results | null>(null);
  const [wf, setWf] = useState<Workflow | null>(null);
  // error is the last load's failure (cleared by the next load that
  // succeeds); actError is a cancel's or retry's, kept until the next action:
  // the refresh every second must not wipe "the cancel did not happen".
  const [error, setError] = useState<unknown>(null);
  const [actError, setActError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string>();
  const [busy, setBusy] = useState(false);
  const wfLoaded = useRef("");
  // The execution itself: its trace id, the revision it runs, and whether
  // a cancel was requested (refreshed with the results).
  const [exec, setExec] = useState<Execution | null>(null);
  const trace = traceURL(exec?.traceId);

  const load = useCallback(async () => {
    try {
      const [r, x] = await Promise.all([
        get<Results>(`/v1/executions/${encodeURIComponent(id)}/results`),
        get<Execution>(`/v1/executions/${encodeURIComponent(id)}`),
      ]);
      setRes(r);
      setExec(x);
      setError(null);
      if (readWorkflows && wfLoaded.current !== r.workflowId) {
        wfLoaded.current = r.workflowId;
        get<Workflow>(`/v1/workflows/${encodeURIComponent(r.workflowId)}`).then(setWf, setError);
      }
    } catch (e) {
      setError(e);
    }
  }, [id, readWorkflows]);

  useEffect(() => {
    void load();
  }, [load]);

  const live = res ? !terminal(res.status) : false;
  // Every second while it runs; every 2 s while it waits (a decision, a
  // callback or a timer wakes it).
  const every = !live ? 0 : res?.status === "waiting" ? 2000 : 1000;
  useEffect(() => {
    if (!every) return;
    const t = window.setInterval(() => void load(), every);
    return () => window.clearInterval(t);
  }, [every, load]);

  const states = useMemo(() => (wf && res ? nodeStates(wf, res) : undefined), [wf, res]);
  const waitingNodes = wf && states ? wf.nodes.filter((n) => states.get(n.id) === "waiting") : [];
  const reviews = useWaitingReviews(
    id,
    waitingNodes.filter((n) => n.type === "review").map((n) => n.id),
    can(PERM.reviewsRead),
  );

  const act = async (what: "cancel" | "retry") => {
    setBusy(true);
    setActError(null);
    try {
      await post(`/v1/executions/${encodeURIComponent(id)}/${what}`);
    } catch (e) {
      setActError(new Error(`The ${what} was not done: ${errorText(e)}`));
    }
    try {
      await load();
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
            {live && <span className={"live" + (res.status === "waiting" ? " waiting-live" : "")}> ● {res.status === "waiting" ? "waiting" : "live"}</span>}
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
          {live && can(PERM.executionsManage) && (
            <button className="danger" data-testid="cancel" disabled={busy} onClick={() => void act("cancel")}>
              Cancel
            </button>
          )}
          {(res.status === "failed" || res.status === "cancelled") && can(PERM.executionsManage) && (
            <button data-testid="retry" disabled={busy} onClick={() => void act("retry")}>
              Retry
            </button>
          )}
        </div>
      </header>
      <ErrorBox error={error} />
      {actError !== null && (
        <div className="error" role="alert" data-testid="action-error">
          {errorText(actError)}
        </div>
      )}
      {exec?.cancelRequested && live && (
        <div className="note" data-testid="cancel-requested">
          Cancel requested: the execution stops at its next step.
        </div>
      )}
      {wf && exec?.workflowRevision !== undefined && exec.workflowRevision !== wf.revision && (
        <div className="warn" data-testid="revision-notice">
          This execution ran revision {exec.workflowRevision} of the workflow; the graph is the workflow as it is now (revision {wf.revision}), whose nodes and
          edges may differ from the ones that ran — the API serves only the current definition. The steps, timeline and output below are the ones recorded.
        </div>
      )}
      {res.errorMessage && (
        <div className="error" data-testid="execution-error">
          {res.errorMessage}
        </div>
      )}
      {waitingNodes.length > 0 && (
        <div className="waiting-banner" data-testid="waiting-banner">
          {waitingNodes.map((n) => (
            <WaitingLine key={n.id} node={n} review={reviews.get(n.id)} onSelect={() => setSelected(n.id)} />
          ))}
        </div>
      )}
      <div className="split">
        <div className="panel graph-panel">
          {wf ? (
            <Graph nodes={wf.nodes} edges={wf.edges} states={states} selected={selected} onSelect={setSelected} />
          ) : (
            <p className="muted graph-note">{readWorkflows ? "Loading graph…" : "The graph needs the permission workflows:read; the steps are below."}</p>
          )}
          <Legend />
        </div>
        <aside className="panel side">
          {selected ? (
            <>
              <h3>{selNode?.name || selected}</h3>
              <div className="muted small">
                {selNode?.type} · {states?.get(selected) ?? ""}
              </div>
              {selNode && WAIT_TYPES.includes(selNode.type) && <WaitView node={selNode} state={states?.get(selected)} review={reviews.get(selected)} steps={selSteps} workflowId={res.workflowId} />}
              {selSteps.length === 0 && states?.get(selected) !== "waiting" && <p className="muted">This node has no step in this execution.</p>}
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

// WaitingLine: one node the execution waits at, in the banner above the graph.
function WaitingLine({ node, review, onSelect }: { node: WfNode; review?: Review; onSelect: () => void }) {
  const name = node.name || node.id;
  const what = node.type === "review" ? "a review" : node.type === "wait_for_callback" ? "a callback" : "a timer";
  return (
    <div className="waiting-line" data-node={node.id}>
      <span className="status status-waiting">waiting</span>
      <span>
        for {what} at{" "}
        <button className="link-button" onClick={onSelect}>
          {name}
        </button>
        {review && (
          <>
            {" "}
            — “{review.title}”, {approvals(review)} of {review.requiredApprovals} approvals, opened <Since time={review.createdAt} /> ago
            {review.dueAt && (
              <>
                , due <Due time={review.dueAt} />
              </>
            )}
          </>
        )}
      </span>
      {review && (
        <Link to={`/console/reviews/${review.id}`} className="button primary small-button" data-testid="open-review">
          Open review →
        </Link>
      )}
    </div>
  );
}

// WaitView: what a review, wait_for_callback or delay node waits for, and
// its review (the open one while waiting; the one its step names after).
function WaitView({ node, state, review, steps, workflowId }: { node: WfNode; state?: string; review?: Review; steps: Step[]; workflowId: string }) {
  const can = useCan();
  const waitId = steps.map((s) => s.callDetails?.waitId).find((w) => typeof w === "string") as string | undefined;
  const reviewId = review?.id ?? (node.type === "review" ? waitId : undefined);
  return (
    <div className="wait-view" data-testid="wait-view">
      {state === "waiting" && <div className="note">The execution waits here{node.type === "review" ? " for analysts' decisions" : node.type === "delay" ? " for its timer" : " for a callback or signal"}.</div>}
      <Facts rows={waitFacts(node).filter(([, v]) => v)} />
      {review && (
        <p>
          {approvals(review)} of {review.requiredApprovals} approvals so far
          {review.votes.length > 0 && <> ({review.votes.map((v) => `${v.actor.id}: ${v.decision}`).join(", ")})</>}.
        </p>
      )}
      {reviewId && can(PERM.reviewsRead) && (
        <Link to={`/console/reviews/${reviewId}`} data-testid="review-link">
          {state === "waiting" ? "Open the review to decide →" : "Open its review →"}
        </Link>
      )}
      {node.type === "review" && state === "waiting" && !review && can(PERM.reviewsRead) && (
        <Link to={`/console/reviews?workflowId=${workflowId}`}>Its workflow's open reviews →</Link>
      )}
    </div>
  );
}

function Legend() {
  return (
    <div className="legend">
      {["completed", "failed", "running", "waiting", "skipped", "not reached"].map((s) => (
        <span key={s}>
          <span className={"dot fk-state-" + s.replace(/ /g, "")} /> {s}
        </span>
      ))}
    </div>
  );
}
