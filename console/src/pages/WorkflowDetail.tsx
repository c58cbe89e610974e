import { useCallback, useEffect, useState } from "react";
import { get, post, uuid4, type Workflow } from "../api";
import { Graph } from "../components/Graph";
import { NodeDetails } from "../components/NodeDetails";
import { navigate } from "../router";
import { ErrorBox, Link, Status, fmtTime, shortId } from "../ui";

export function WorkflowDetail({ id }: { id: string }) {
  const [wf, setWf] = useState<Workflow | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string>();
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setWf(await get<Workflow>(`/v1/workflows/${encodeURIComponent(id)}`));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [id]);
  useEffect(() => {
    void load();
  }, [load]);

  const transition = async (to: "activate" | "deactivate" | "draft") => {
    setBusy(true);
    try {
      setWf(await post<Workflow>(`/v1/workflows/${encodeURIComponent(id)}/${to}`));
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (!wf) return <section>{error ? <ErrorBox error={error} /> : <p className="muted">Loading…</p>}</section>;
  const node = wf.nodes.find((n) => n.id === selected);
  return (
    <section>
      <header className="page-head">
        <div>
          <div className="crumbs">
            <Link to="/console/workflows">Workflows</Link> /
          </div>
          <h1 data-testid="workflow-name">{wf.name}</h1>
          <div className="muted small">
            <Status value={wf.status} /> revision {wf.revision} · id <span className="mono">{wf.id}</span> · updated {fmtTime(wf.updatedAt)}
          </div>
          {wf.description && <p>{wf.description}</p>}
        </div>
        <div className="actions">
          {wf.status !== "active" && (
            <button className="primary" disabled={busy} onClick={() => void transition("activate")}>
              Activate
            </button>
          )}
          {wf.status === "active" && (
            <button disabled={busy} onClick={() => void transition("deactivate")}>
              Deactivate
            </button>
          )}
          {wf.status === "inactive" && (
            <button disabled={busy} onClick={() => void transition("draft")}>
              Back to draft
            </button>
          )}
          <Link className="button" to={`/console/executions?workflowId=${wf.id}`}>
            Executions
          </Link>
        </div>
      </header>
      <ErrorBox error={error} />
      <div className="split">
        <div className="panel graph-panel">
          <Graph nodes={wf.nodes} edges={wf.edges} selected={selected} onSelect={setSelected} />
        </div>
        <aside className="panel side">
          {node ? (
            <>
              <h3>{node.name || node.id}</h3>
              <NodeDetails node={node} />
            </>
          ) : (
            <p className="muted">Select a node to see its type and data.</p>
          )}
        </aside>
      </div>
      {wf.status === "active" && <StartExecution workflowId={wf.id} />}
    </section>
  );
}

function StartExecution({ workflowId }: { workflowId: string }) {
  const [input, setInput] = useState("{\n  \n}");
  // One key per intended execution: resending after a network error
  // replays the same execution instead of starting a second one.
  const [key, setKey] = useState(uuid4);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const start = async () => {
    let inputData: unknown;
    try {
      inputData = input.trim() ? JSON.parse(input) : {};
    } catch (e) {
      setError(new Error("Input is not valid JSON: " + (e instanceof Error ? e.message : String(e))));
      return;
    }
    if (typeof inputData !== "object" || inputData === null || Array.isArray(inputData)) {
      setError(new Error("Input must be a JSON object."));
      return;
    }
    setBusy(true);
    try {
      const res = await post<{ executionId: string }>(`/v1/workflows/${encodeURIComponent(workflowId)}/executions`, { inputData }, { "Idempotency-Key": key });
      setKey(uuid4());
      navigate(`/console/executions/${res.executionId}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="panel start">
      <h3>Start an execution</h3>
      <label className="block">
        Input (JSON object, sent as <span className="mono">inputData</span>)
        <textarea data-testid="input-json" value={input} onChange={(e) => setInput(e.target.value)} rows={6} spellCheck={false} />
      </label>
      <ErrorBox error={error} />
      <div className="actions">
        <button className="primary" data-testid="start-execution" disabled={busy} onClick={() => void start()}>
          Start execution
        </button>
        <span className="muted small">
          Idempotency-Key <span className="mono">{shortId(key)}…</span>
        </span>
      </div>
    </div>
  );
}
