import { useEffect, useState } from "react";
import { RawJSON, api, checkJSON, get, type Template, type TemplateSummary, type Workflow } from "../api";
import { navigate } from "../router";
import { parseSchema, SchemaFields, type ObjectSchema } from "../components/Schema";
import { PERM, useCan } from "../session";
import { ErrorBox, Link, Pager, Status, fmtTime, usePaged, EmptyRow } from "../ui";

// starterParams fills the required parameters (and those with a default)
// so the user sees what the template needs.
function starterParams(schema: ObjectSchema): string {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(schema.properties ?? {})) {
    if (p.default !== undefined) out[k] = p.default;
    else if (schema.required?.includes(k)) out[k] = "";
  }
  return JSON.stringify(out, null, 2);
}

// FromTemplate creates a draft from a catalog template
// (POST /v1/workflows/from-template) and opens it.
function FromTemplate({ initial, onClose }: { initial: string; onClose: () => void }) {
  const [templates, setTemplates] = useState<TemplateSummary[]>([]);
  const [chosen, setChosen] = useState("");
  const [schema, setSchema] = useState<ObjectSchema>({});
  const [params, setParams] = useState("{}");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    get<TemplateSummary[]>("/v1/catalog/templates").then((t) => {
      setTemplates(t);
      if (t.length) setChosen(t.some((x) => x.id === initial) ? initial : t[0].id);
    }, setError);
  }, []);
  useEffect(() => {
    if (!chosen) return;
    // A template chosen while the previous one's details were on their way
    // must not get that one's parameters when they arrive.
    let current = true;
    get<Template>(`/v1/catalog/templates/${encodeURIComponent(chosen)}`).then((t) => {
      if (!current) return;
      const sc = parseSchema(t.paramSchema); // an unreadable schema: start from {}
      setSchema(sc);
      setParams(starterParams(sc));
    }, (e) => current && setError(e));
    return () => {
      current = false;
    };
  }, [chosen]);

  const create = async () => {
    // The parameters go as typed (JSON.parse only checks them): a number
    // it would round reaches the API as written.
    const typed = params.trim() || "{}";
    try {
      checkJSON("Parameters", typed);
    } catch (e) {
      setError(e);
      return;
    }
    setBusy(true);
    try {
      const body = new RawJSON('{"templateId":' + JSON.stringify(chosen) + ',"params":' + typed + "}");
      const r = await api<{ workflowId: string }>("POST", "/v1/workflows/from-template", body);
      navigate(`/console/workflows/${r.workflowId}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const tpl = templates.find((t) => t.id === chosen);
  return (
    <div className="panel" data-testid="from-template">
      <h3>New workflow from a template</h3>
      <label>
        Template{" "}
        <select data-testid="template-select" value={chosen} onChange={(e) => setChosen(e.target.value)}>
          {templates.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} ({t.id})
            </option>
          ))}
        </select>
      </label>
      {tpl && <p className="muted small">{tpl.description}</p>}
      <SchemaFields schema={schema} empty="This template takes no parameters." testid="template-fields" />
      <label className="block">
        Parameters (JSON object)
        <textarea data-testid="template-params" value={params} onChange={(e) => setParams(e.target.value)} rows={8} spellCheck={false} />
      </label>
      <ErrorBox error={error} />
      <div className="actions">
        <button className="primary" data-testid="template-create" disabled={busy || !chosen} onClick={() => void create()}>
          Create draft
        </button>
        <button onClick={onClose}>Cancel</button>
      </div>
    </div>
  );
}

export function Workflows({ search }: { search: URLSearchParams }) {
  const can = useCan();
  const [status, setStatus] = useState("");
  // ?template=<id> (the catalog's "Use template") opens the form on it.
  const template = search.get("template") ?? "";
  const mayCreate = can(PERM.workflowsManage) && can(PERM.catalogRead);
  const [creating, setCreating] = useState(mayCreate && template !== "");
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
          {mayCreate && (
            <button className="primary" data-testid="new-from-template" onClick={() => setCreating(true)}>
              New from template
            </button>
          )}
        </div>
      </header>
      {creating && <FromTemplate initial={template} onClose={() => setCreating(false)} />}
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
          <EmptyRow shown={p.loaded && p.items.length === 0} cols={5} text="No workflows." />
        </tbody>
      </table>
      <Pager p={p} />
    </section>
  );
}
