import { useEffect, useState } from "react";
import { get, type CatalogExecutor, type CatalogProvider, type CatalogTrigger, type Template } from "../api";
import { parseSchema, SchemaFields } from "../components/Schema";
import { PERM, useCan } from "../session";
import { ErrorBox, Link } from "../ui";

// The static catalog (GET /v1/catalog/…): what workflows can be built from.
type Item = { id: string; name: string; description?: string; category?: string; version: string; providerId?: string };
type Tab = { key: string; label: string; path: string; schemaField: "paramSchema" | "configSchema" | "schema"; schemaTitle: string; empty: string };

const TABS: Tab[] = [
  { key: "templates", label: "Templates", path: "/v1/catalog/templates", schemaField: "paramSchema", schemaTitle: "Parameters", empty: "This template takes no parameters." },
  { key: "providers", label: "Providers", path: "/v1/catalog/providers", schemaField: "configSchema", schemaTitle: "Configuration fields", empty: "No configuration fields." },
  { key: "executors", label: "Executors", path: "/v1/catalog/executors", schemaField: "schema", schemaTitle: "Node data fields", empty: "No fields." },
  { key: "triggers", label: "Triggers", path: "/v1/catalog/triggers", schemaField: "schema", schemaTitle: "Trigger fields", empty: "No fields." },
];

// The tab and the entry live in the page's URL (links to an entry work).
function show(tab: string, id: string) {
  const q = new URLSearchParams({ tab });
  if (id) q.set("id", id);
  window.history.replaceState(null, "", "/console/catalog?" + q.toString());
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function Catalog({ search }: { search: URLSearchParams }) {
  const tab = TABS.find((t) => t.key === search.get("tab")) ?? TABS[0];
  // The list with the path it came from: after a tab switch, the old tab's
  // entries are never taken for the new tab's.
  const [list, setList] = useState<{ path: string; items: Item[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<Item[]>(tab.path).then((items) => (setList({ path: tab.path, items }), setError(null)), setError);
  }, [tab.path]);
  const items = list?.path === tab.path ? list.items : null;
  const wanted = search.get("id") ?? "";
  const selected = items?.some((i) => i.id === wanted) ? wanted : (items?.[0]?.id ?? "");

  return (
    <section>
      <header className="page-head">
        <div>
          <h1>Catalog</h1>
          <p className="muted small">The building blocks of workflows this server offers: templates, providers, executors and triggers.</p>
        </div>
      </header>
      <div className="tabs" role="tablist" data-testid="catalog-tabs">
        {TABS.map((t) => (
          <button key={t.key} role="tab" aria-selected={t.key === tab.key} className={t.key === tab.key ? "tab active" : "tab"} onClick={() => show(t.key, "")}>
            {t.label}
          </button>
        ))}
      </div>
      <ErrorBox error={error} />
      <div className="catalog">
        <ul className="catalog-list panel" data-testid="catalog-list">
          {(items ?? []).map((i) => (
            <li key={i.id}>
              <button className={"catalog-item" + (i.id === selected ? " selected" : "")} data-id={i.id} onClick={() => show(tab.key, i.id)}>
                <span className="catalog-name">{i.name}</span>
                <span className="muted small">
                  <span className="mono">{i.id}</span> · {i.version}
                  {i.category ? " · " + i.category : ""}
                </span>
              </button>
            </li>
          ))}
          {items && items.length === 0 && <li className="muted">Nothing here.</li>}
        </ul>
        {!items ? null : selected ? <CatalogDetail key={tab.key + selected} tab={tab} id={selected} /> : <div className="panel muted">Select an entry.</div>}
      </div>
    </section>
  );
}

type Detail = Item & Partial<Template> & Partial<CatalogProvider> & Partial<CatalogExecutor> & Partial<CatalogTrigger>;

function CatalogDetail({ tab, id }: { tab: Tab; id: string }) {
  const can = useCan();
  const [d, setD] = useState<Detail | null>(null);
  const [executors, setExecutors] = useState<CatalogExecutor[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const base = `${tab.path}/${encodeURIComponent(id)}`;
    let live = true; // another entry opened meanwhile: its answer, not this one's
    const fail = (e: unknown) => live && setError(e);
    get<Detail>(base).then((x) => live && setD(x), fail);
    if (tab.key === "providers") get<CatalogExecutor[]>(`${base}/executors`).then((x) => live && setExecutors(x), fail);
    return () => {
      live = false;
    };
  }, [tab, id]);
  if (!d) return <div className="panel">{error ? <ErrorBox error={error} /> : <p className="muted">Loading…</p>}</div>;
  const schema = parseSchema(d[tab.schemaField]);
  const useTemplate = tab.key === "templates" && can(PERM.workflowsManage);
  return (
    <div className="panel catalog-detail" data-testid="catalog-detail">
      <div className="panel-head">
        <div>
          <h2>{d.name}</h2>
          <div className="muted small">
            <span className="mono">{d.id}</span> · version {d.version}
            {d.category ? " · " + d.category : ""}
            {d.providerId ? (
              <>
                {" · provider "}
                <Link to={`/console/catalog?tab=providers&id=${encodeURIComponent(d.providerId)}`}>{d.providerId}</Link>
              </>
            ) : null}
          </div>
        </div>
        {useTemplate && (
          <Link className="button primary" to={`/console/workflows?template=${encodeURIComponent(d.id)}`}>
            Use template
          </Link>
        )}
      </div>
      {d.description && <p>{d.description}</p>}
      {schema.description && schema.description !== d.description && <p className="muted">{schema.description}</p>}
      <h4>{tab.schemaTitle}</h4>
      <SchemaFields schema={schema} empty={tab.empty} testid="schema-fields" />
      {tab.key === "providers" && (
        <>
          <h4>Executors of this provider</h4>
          <ul className="plain">
            {executors.map((e) => (
              <li key={e.id}>
                <Link to={`/console/catalog?tab=executors&id=${encodeURIComponent(e.id)}`}>{e.name}</Link> <span className="mono muted small">{e.id}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      <ErrorBox error={error} />
    </div>
  );
}
