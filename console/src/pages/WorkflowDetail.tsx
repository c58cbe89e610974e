import { useCallback, useEffect, useMemo, useState } from "react";
import { RawJSON, api, apiFull, checkJSON, errorTarget, isApiError, post, uuid4, type WfEdge, type WfNode, type Workflow } from "../api";
import { dropDraft, loadDraft, saveDraft } from "../drafts";
import { prettyFields } from "../json";
import { Graph } from "../components/Graph";
import { NodeDetails } from "../components/NodeDetails";
import { navigate } from "../router";
import { PERM, useCan } from "../session";
import { ErrorBox, Link, Status, fmtTime, shortId } from "../ui";

type Problem = { kind: "node" | "edge"; id: string; message: string };

// editable is the part of a workflow PUT replaces (metadata is merged by the
// API and edited elsewhere), laid out from the text the API answered
// (raw) so that numbers read as they are stored (-0, 9007199254740993,
// 1e+21): a save without edits sends back what was read.
function editable(wf: Workflow, raw: string): string {
  return (
    prettyFields(raw, [
      ["name", JSON.stringify(wf.name)],
      ["description", '""'],
      ["nodes", "[]"],
      ["edges", "[]"],
    ]) ?? JSON.stringify({ name: wf.name, description: wf.description ?? "", nodes: wf.nodes, edges: wf.edges }, null, 2)
  );
}

// An editor's unsaved text and the ETag of the read it started from
// (drafts.ts): a save after signing in again is still conditional on it.
type EditDraft = { text: string; etag: string };

// staleText is what a write refused with 412 says: the workflow is no longer
// the revision this page showed.
const staleText = (what: string) =>
  `This workflow was changed by someone else since this page read it, so it was not ${what}. Reload it to see what it is now.`;

export function WorkflowDetail({ id }: { id: string }) {
  const can = useCan();
  const draftKey = `workflow:${id}`;
  const [draft] = useState(() => loadDraft<EditDraft>(draftKey));
  const [wf, setWf] = useState<Workflow | null>(null);
  const [raw, setRaw] = useState("");
  const [etag, setEtag] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [mode, setMode] = useState<"view" | "edit" | "clone" | "delete">(draft ? "edit" : "view");
  const [text, setText] = useState(draft?.text ?? "");
  // The ETag the editor's text started from: the If-Match of its save.
  const [baseEtag, setBaseEtag] = useState(draft?.etag ?? "");
  const [restored, setRestored] = useState(!!draft);
  const [problem, setProblem] = useState<Problem>();
  const [stale, setStale] = useState(false);
  const [cloneName, setCloneName] = useState("");
  const path = `/v1/workflows/${encodeURIComponent(id)}`;

  const load = useCallback(async (): Promise<string | undefined> => {
    try {
      const r = await apiFull<Workflow>("GET", path);
      setWf(r.data);
      setRaw(r.text);
      setEtag(r.etag);
      setError(null);
      setStale(false);
      return r.etag;
    } catch (e) {
      setError(e);
      return undefined;
    }
  }, [path]);
  useEffect(() => {
    void load();
  }, [load]);

  // The editor's text is kept until saved or given up (Cancel, or leaving
  // the editor for another action), so signing in again finds it.
  useEffect(() => {
    if (mode === "edit") saveDraft(draftKey, { text, etag: baseEtag } satisfies EditDraft);
    else dropDraft(draftKey);
  }, [mode, text, baseEtag, draftKey]);

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    try {
      await fn();
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  // A lifecycle action applies to the revision shown (If-Match): activating
  // a definition changed meanwhile, and never shown here, is refused (412).
  const transition = (to: "activate" | "deactivate" | "draft") =>
    run(async () => {
      try {
        const r = await apiFull<Workflow>("POST", `${path}/${to}`, undefined, etag ? { "If-Match": etag } : {});
        setWf(r.data);
        setRaw(r.text);
        setEtag(r.etag);
      } catch (e) {
        if (!isApiError(e) || e.status !== 412) throw e;
        setStale(true);
        throw new Error(staleText(to === "activate" ? "activated" : to === "deactivate" ? "deactivated" : "taken back to draft"));
      }
    });

  const save = async () => {
    // Sent as typed: JSON.parse only checks it (numbers it would round
    // reach the API as written, which keeps or refuses them).
    try {
      checkJSON("The definition", text);
    } catch (e) {
      setError(e);
      setProblem(undefined);
      return;
    }
    setBusy(true);
    try {
      const match = baseEtag || etag;
      const r = await apiFull<Workflow>("PUT", path, new RawJSON(text), match ? { "If-Match": match } : {});
      setWf(r.data);
      setRaw(r.text);
      setEtag(r.etag);
      setError(null);
      setProblem(undefined);
      setRestored(false);
      setMode("view");
    } catch (e) {
      if (isApiError(e) && e.status === 412) {
        setStale(true);
        setError(new Error("This workflow was changed by someone else since you opened it, so it was not saved. Your edits are still in the editor: copy them, reload, and apply them again."));
        setProblem(undefined);
      } else {
        setError(e);
        const t = errorTarget(e);
        setProblem(t && isApiError(e) ? { ...t, message: e.message } : undefined);
        if (t?.kind === "node") setSelected(t.id);
      }
    } finally {
      setBusy(false);
    }
  };

  const clone = () =>
    run(async () => {
      const r = await api<{ workflowId: string }>("POST", `${path}/clone`, { name: cloneName.trim() });
      navigate(`/console/workflows/${r.workflowId}`);
    });

  const remove = () =>
    run(async () => {
      await api("DELETE", path, undefined, etag ? { "If-Match": etag } : {});
      navigate("/console/workflows");
    });

  // While editing, the graph shows the edited definition (so a validation
  // error can point at a node that exists only in the editor).
  const preview = useMemo(() => {
    if (mode !== "edit") return undefined;
    try {
      const d = JSON.parse(text) as { nodes?: unknown; edges?: unknown };
      if (Array.isArray(d.nodes) && Array.isArray(d.edges)) {
        const obj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && typeof (x as { id?: unknown }).id === "string";
        const nodes = d.nodes.filter(obj).map((n) => ({ ...n, type: String(n.type ?? ""), name: typeof n.name === "string" ? n.name : undefined }) as WfNode);
        const edges = d.edges.filter(obj).map((e) => ({ ...e, source: String(e.source ?? ""), target: String(e.target ?? "") }) as WfEdge);
        return { nodes, edges };
      }
    } catch {
      // not JSON (yet): keep the stored graph
    }
    return undefined;
  }, [mode, text]);

  if (!wf) return <section>{error ? <ErrorBox error={error} /> : <p className="muted">Loading…</p>}</section>;
  const nodes = preview?.nodes ?? wf.nodes;
  const edges = preview?.edges ?? wf.edges;
  const node = nodes.find((n) => n && n.id === selected);
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
          {can(PERM.workflowsManage) && (
            <>
              {wf.status !== "active" && (
                <button className="primary" data-testid="activate" disabled={busy || mode === "edit"} onClick={() => void transition("activate")}>
                  Activate
                </button>
              )}
              {wf.status === "active" && (
                <button data-testid="deactivate" disabled={busy} onClick={() => void transition("deactivate")}>
                  Deactivate
                </button>
              )}
              {wf.status === "inactive" && (
                <button data-testid="back-to-draft" disabled={busy} onClick={() => void transition("draft")}>
                  Back to draft
                </button>
              )}
              {wf.status === "draft" && mode !== "edit" && (
                <button
                  data-testid="edit-json"
                  disabled={busy}
                  onClick={() => (setText(editable(wf, raw)), setBaseEtag(etag), setRestored(false), setProblem(undefined), setError(null), setMode("edit"))}
                >
                  Edit JSON
                </button>
              )}
              <button data-testid="clone" disabled={busy} onClick={() => (setCloneName(wf.name + "-copy"), setMode("clone"))}>
                Clone
              </button>
              {wf.status !== "active" && (
                <button className="danger" data-testid="delete" disabled={busy} onClick={() => setMode("delete")}>
                  Delete
                </button>
              )}
            </>
          )}
          {can(PERM.executionsRead) && (
            <Link className="button" to={`/console/executions?workflowId=${wf.id}`}>
              Executions
            </Link>
          )}
        </div>
      </header>
      {mode === "clone" && (
        <form className="panel inline-form" onSubmit={(e) => (e.preventDefault(), void clone())}>
          <label>
            Name of the copy <input data-testid="clone-name" value={cloneName} onChange={(e) => setCloneName(e.target.value)} maxLength={100} />
          </label>
          <button className="primary" type="submit" data-testid="clone-submit" disabled={busy || !cloneName.trim()}>
            Create copy
          </button>
          <button type="button" onClick={() => setMode("view")}>
            Cancel
          </button>
        </form>
      )}
      {mode === "delete" && (
        <div className="panel confirm" data-testid="delete-confirmation">
          Delete <b>{wf.name}</b> for good? Its executions are kept.
          <button className="danger" data-testid="delete-confirm" disabled={busy} onClick={() => void remove()}>
            Delete workflow
          </button>
          <button onClick={() => setMode("view")}>Keep it</button>
        </div>
      )}
      {wf.status !== "draft" && mode === "view" && can(PERM.workflowsManage) && <p className="muted small">Only drafts can be edited: deactivate it and take it back to draft first.</p>}
      <ErrorBox error={error} />
      {stale && (
        <button data-testid="reload" onClick={() => void load().then((t) => t && setBaseEtag(t))}>
          Reload the workflow
        </button>
      )}
      <div className="split">
        <div className="panel graph-panel">
          <Graph nodes={nodes} edges={edges} selected={selected} onSelect={setSelected} problem={problem} />
        </div>
        <aside className="panel side">
          {problem && (
            <div className="error" data-testid="problem">
              {problem.kind} <span className="mono">{problem.id}</span>: {problem.message}
            </div>
          )}
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
      {mode === "edit" && (
        <div className="panel editor">
          <h3>Definition (JSON)</h3>
          <p className="muted small">
            name, description, nodes and edges, as <span className="mono">PUT /v1/workflows/{"{id}"}</span> takes them; saved with{" "}
            <span className="mono">If-Match: {etag}</span>, so a change made meanwhile by someone else is not overwritten.
          </p>
          {restored && (
            <p className="note" data-testid="editor-restored">
              Your unsaved edits are back; they are saved with the <span className="mono">If-Match</span> of the read they started from.
            </p>
          )}
          <textarea data-testid="editor-json" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} rows={20} />
          <div className="actions">
            <button className="primary" data-testid="save-json" disabled={busy} onClick={() => void save()}>
              Save
            </button>
            <button data-testid="edit-cancel" onClick={() => (setMode("view"), setRestored(false), setProblem(undefined), setError(null))}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {wf.status === "active" && can(PERM.executionsManage) && <StartExecution workflowId={wf.id} />}
    </section>
  );
}

const EMPTY_INPUT = "{\n  \n}";
type StartDraft = { input: string; key: string };

function StartExecution({ workflowId }: { workflowId: string }) {
  const draftKey = `start:${workflowId}`;
  const [draft] = useState(() => loadDraft<StartDraft>(draftKey));
  const [input, setInput] = useState(draft?.input ?? EMPTY_INPUT);
  // One key per intended execution: resending after a network error
  // replays the same execution instead of starting a second one.
  const [key, setKey] = useState(() => draft?.key || uuid4());
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // A typed input (and its key) is kept until the start succeeds.
  useEffect(() => {
    if (input !== EMPTY_INPUT) saveDraft(draftKey, { input, key } satisfies StartDraft);
    else dropDraft(draftKey);
  }, [input, key, draftKey]);

  const start = async () => {
    // The input is sent as typed, inside {"inputData": …}: JSON.parse only
    // checks it, so an amount it would round (9007199254740993) reaches
    // the API as written and is refused there, not silently changed.
    const typed = input.trim() || "{}";
    let inputData: unknown;
    try {
      inputData = checkJSON("Input", typed);
    } catch (e) {
      setError(e);
      return;
    }
    if (typeof inputData !== "object" || inputData === null || Array.isArray(inputData)) {
      setError(new Error("Input must be a JSON object."));
      return;
    }
    setBusy(true);
    try {
      const res = await post<{ executionId: string }>(`/v1/workflows/${encodeURIComponent(workflowId)}/executions`, new RawJSON('{"inputData":' + typed + "}"), {
        "Idempotency-Key": key,
      });
      dropDraft(draftKey); // started: a later visit starts afresh, with a new key
      setInput(EMPTY_INPUT);
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
