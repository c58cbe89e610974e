import { useState } from "react";
import { apiFull, isApiError, query, type ExecutorConfig } from "../api";
import { ConnectivityTest } from "../components/TestResult";
import { navigate } from "../router";
import { PERM, useCan } from "../session";
import { DetailHeader, EmptyRow, ErrorBox, Facts, Json, Link, Loading, Pager, Status, fmtTime, useGet, usePaged } from "../ui";

// The executor configuration lifecycle (internal/flow/configs.go): each
// action, the status it starts from.
const LIFECYCLE = ["unconfigured", "configured", "tested", "active"];
const ACTIONS: { action: string; from: string; label: string }[] = [
  { action: "configure", from: "unconfigured", label: "Mark configured" },
  { action: "activate", from: "tested", label: "Activate" },
  { action: "disable", from: "active", label: "Disable" },
  { action: "enable", from: "disabled", label: "Enable" },
];

export function Executors({ search }: { search: URLSearchParams }) {
  const [status, setStatus] = useState(search.get("status") ?? "");
  const p = usePaged<ExecutorConfig>("/v1/executors", query({ limit: 20, status }), () => 0);
  return (
    <section>
      <header className="page-head">
        <div>
          <h1>Executor configurations</h1>
          <p className="muted small">Services Flowker calls by name: a base URL, its endpoints and how to authenticate. Secrets are masked by the server.</p>
        </div>
        <div className="filters">
          <label>
            Status{" "}
            <select value={status} data-testid="executor-status" onChange={(e) => setStatus(e.target.value)}>
              <option value="">any</option>
              {[...LIFECYCLE, "disabled"].map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        </div>
      </header>
      <ErrorBox error={p.error} />
      <table className="table" data-testid="executors-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            <th>Base URL</th>
            <th>Endpoints</th>
            <th>Authentication</th>
            <th>Last tested</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((e) => (
            <tr key={e.id} className="clickable" onClick={() => navigate(`/console/executors/${e.id}`)}>
              <td>
                <Link to={`/console/executors/${e.id}`}>{e.name}</Link>
                {e.description && <div className="muted small">{e.description}</div>}
              </td>
              <td>
                <Status value={e.status} />
              </td>
              <td className="mono">{e.baseUrl}</td>
              <td>{e.endpoints.map((ep) => ep.name).join(", ")}</td>
              <td>{e.authentication.type}</td>
              <td>{e.lastTestedAt ? fmtTime(e.lastTestedAt) : "—"}</td>
              <td>{fmtTime(e.updatedAt)}</td>
            </tr>
          ))}
          <EmptyRow shown={p.loaded && p.items.length === 0} cols={7} text="No executor configurations." />
        </tbody>
      </table>
      <Pager p={p} />
    </section>
  );
}

export function ExecutorDetail({ id }: { id: string }) {
  const can = useCan();
  const path = `/v1/executors/${encodeURIComponent(id)}`;
  const { data: e, etag, error, reload, setData, setEtag } = useGet<ExecutorConfig>(path);
  const [actError, setActError] = useState<unknown>(null);
  const [stale, setStale] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!e) return <Loading error={error} />;
  const manage = can(PERM.executorConfigsManage);
  // An action applies to the revision shown (If-Match): one changed
  // meanwhile is refused (412) and the page offers a reload.
  const act = async (action: string, label: string) => {
    setBusy(true);
    try {
      const r = await apiFull<ExecutorConfig>("POST", `${path}/${action}`, undefined, etag ? { "If-Match": etag } : {});
      setData(r.data);
      setEtag(r.etag);
      setActError(null);
      setStale(false);
    } catch (err) {
      if (isApiError(err) && err.status === 412) {
        setStale(true);
        setActError(new Error(`This configuration was changed by someone else since this page read it, so “${label}” was not applied. Reload it to see what it is now.`));
      } else setActError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section>
      <DetailHeader list="/console/executors" listLabel="Executor configurations" item={e} testid="executor-name">
        {manage && (
          <div className="actions">
            {ACTIONS.filter((a) => a.from === e.status).map((a) => (
              <button key={a.action} className={a.action === "disable" ? "" : "primary"} data-testid={"executor-" + a.action} disabled={busy} onClick={() => void act(a.action, a.label)}>
                {a.label}
              </button>
            ))}
          </div>
        )}
      </DetailHeader>
      {/* an action's failure, else a failed reload: what is shown may be stale */}
      <ErrorBox error={actError ?? error} />
      {stale && (
        <button data-testid="executor-reload" onClick={() => void reload().then(() => (setStale(false), setActError(null)))}>
          Reload the configuration
        </button>
      )}
      <Lifecycle status={e.status} />
      <div className="two-col">
        <div className="panel" data-testid="executor-details">
          <h3>Details</h3>
          <Facts
            rows={[
              ["Base URL", <span className="mono">{e.baseUrl}</span>],
              ["Authentication", e.authentication.type],
              ["Last tested", e.lastTestedAt ? fmtTime(e.lastTestedAt) : "never"],
              ["Created", fmtTime(e.createdAt)],
              ["Updated", fmtTime(e.updatedAt)],
            ]}
          />
          <h4>Endpoints</h4>
          <table className="table compact" data-testid="executor-endpoints">
            <thead>
              <tr>
                <th>Name</th>
                <th>Method</th>
                <th>Path</th>
                <th>Timeout</th>
              </tr>
            </thead>
            <tbody>
              {e.endpoints.map((ep) => (
                <tr key={ep.name}>
                  <td className="mono">{ep.name}</td>
                  <td>{ep.method}</td>
                  <td className="mono">{ep.path}</td>
                  <td>{ep.timeout ? `${ep.timeout} s` : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h4>Authentication configuration (secrets masked by the server)</h4>
          <Json value={e.authentication.config ?? {}} />
          {e.metadata && Object.keys(e.metadata).length > 0 && (
            <>
              <h4>Metadata</h4>
              <Json value={e.metadata} />
            </>
          )}
        </div>
        {manage ? (
          <ConnectivityTest path={`${path}/test`} onDone={() => void reload()} disabled={busy} />
        ) : (
          <div className="panel muted small">Testing connectivity needs the permission executor-configurations:manage.</div>
        )}
      </div>
    </section>
  );
}

// Lifecycle shows where the configuration stands: configured, tested, then
// active (workflows call it only when active).
function Lifecycle({ status }: { status: string }) {
  const at = LIFECYCLE.indexOf(status);
  return (
    <ol className="lifecycle" data-testid="lifecycle">
      {LIFECYCLE.map((s, i) => (
        <li key={s} className={i < at ? "done" : i === at ? "current" : ""}>
          {s}
        </li>
      ))}
      {status === "disabled" && <li className="current off">disabled</li>}
    </ol>
  );
}
