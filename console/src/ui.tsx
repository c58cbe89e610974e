import { useCallback, useEffect, useRef, useState, type AnchorHTMLAttributes, type ReactNode, type MouseEvent } from "react";
import { apiFull, errorText, get, type Page } from "./api";
import { navigate } from "./router";

type LinkProps = { to: string; children: ReactNode } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href" | "onClick">;

export function Link({ to, children, ...rest }: LinkProps) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a {...rest} href={to} onClick={onClick}>
      {children}
    </a>
  );
}

export function Status({ value }: { value: string }) {
  return <span className={"status status-" + value.replace(/[^a-z_]/g, "")}>{value}</span>;
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      {errorText(error)}
    </div>
  );
}

// Json shows any value as text: strings the user or a provider stored are
// never interpreted as markup (React escapes them).
export function Json({ value }: { value: unknown }) {
  if (value === undefined) return <span className="muted">—</span>;
  return <pre className="json">{typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>;
}

export function fmtTime(s?: string): string {
  if (!s) return "—";
  const d = new Date(s);
  if (isNaN(d.getTime())) return s;
  return d.toLocaleString(undefined, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

// shortId abbreviates an id for a list. A UUIDv7 (the server's ids) begins
// with its creation time, the same for everything made within a minute or
// so: its random end tells rows apart.
export function shortId(id: string): string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-7/i.test(id) && id.length === 36) return "…" + id.slice(-8);
  return id.length > 8 ? id.slice(0, 8) : id;
}

// usePaged reads one page of a cursor-paginated list at a time; pages
// already seen keep their cursors so "Previous" needs no extra request.
export function usePaged<T>(path: string, params: string, pollMs: (items: T[]) => number) {
  const [cursors, setCursors] = useState<string[]>([""]);
  // The page shown, with the cursor it was read from: "Next" moves on
  // from that page only once (a double click must not push its cursor twice).
  const [page, setPage] = useState<(Page<T> & { from: string }) | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const cursor = cursors[cursors.length - 1];
  const seq = useRef(0);

  useEffect(() => {
    setCursors([""]);
  }, [path, params]);

  const load = useCallback(async () => {
    const n = ++seq.current;
    setLoading(true);
    try {
      const sep = params ? "&" : "?";
      const url = path + params + (cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : "");
      const p = await get<Page<T>>(url);
      if (n === seq.current) {
        setPage({ ...p, from: cursor });
        setError(null);
      }
    } catch (e) {
      if (n === seq.current) setError(e);
    } finally {
      if (n === seq.current) setLoading(false);
    }
  }, [path, params, cursor]);

  useEffect(() => {
    void load();
  }, [load]);

  const interval = page ? pollMs(page.items) : 0;
  useEffect(() => {
    if (!interval) return;
    const t = window.setInterval(() => void load(), interval);
    return () => window.clearInterval(t);
  }, [interval, load]);

  const moving = page !== null && page.from !== cursor && error === null;
  return {
    items: page?.items ?? [],
    loaded: page !== null,
    error,
    loading,
    pageNumber: cursors.length,
    hasNext: !!page?.hasMore && !!page?.nextCursor,
    hasPrev: cursors.length > 1,
    // moving: another page than the one shown is on its way (a refresh of
    // the same page is not: the buttons stay usable while a list polls).
    moving,
    next: () => {
      if (!page?.nextCursor || moving) return;
      const { from, nextCursor } = page;
      setCursors((c) => (c[c.length - 1] === from ? [...c, nextCursor] : c));
    },
    prev: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    reload: load,
  };
}

// Pager: Previous and Next; both wait while another page is on its way.
export function Pager({ p }: { p: { pageNumber: number; hasNext: boolean; hasPrev: boolean; moving: boolean; next: () => void; prev: () => void } }) {
  return (
    <div className="pager">
      <button onClick={p.prev} disabled={!p.hasPrev || p.moving}>
        ← Previous
      </button>
      <span>Page {p.pageNumber}</span>
      <button onClick={p.next} disabled={!p.hasNext || p.moving}>
        Next →
      </button>
    </div>
  );
}

// EmptyRow is a table's "nothing here" row, shown once a page has loaded empty.
export function EmptyRow({ shown, cols, text }: { shown: boolean; cols: number; text: string }) {
  if (!shown) return null;
  return (
    <tr>
      <td colSpan={cols} className="muted">
        {text}
      </td>
    </tr>
  );
}

// useGet reads one resource (GET path) and reloads it on demand; etag is
// its read's ETag, for a conditional write (If-Match) of what is shown.
export function useGet<T>(path: string) {
  const [data, setData] = useState<T | null>(null);
  const [etag, setEtag] = useState("");
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(async () => {
    try {
      const r = await apiFull<T>("GET", path);
      setData(r.data);
      setEtag(r.etag);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [path]);
  useEffect(() => {
    void load();
  }, [load]);
  return { data, etag, error, reload: load, setData, setEtag };
}

// Facts is a definition list of label → value rows.
export function Facts({ rows, testid }: { rows: [string, ReactNode][]; testid?: string }) {
  return (
    <dl className="facts" data-testid={testid}>
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

// Loading is a detail page before its resource arrived (or its error).
export function Loading({ error }: { error: unknown }) {
  return <section>{error ? <ErrorBox error={error} /> : <p className="muted">Loading…</p>}</section>;
}

// DetailHeader heads a configuration's page: the list it belongs to, its
// name, status, revision and id, its description, and actions on the right.
export function DetailHeader({ list, listLabel, item, testid, children }: {
  list: string; listLabel: string; testid: string; children?: ReactNode;
  item: { id: string; name: string; status: string; revision: number; description?: string };
}) {
  return (
    <header className="page-head">
      <div>
        <div className="crumbs">
          <Link to={list}>{listLabel}</Link> /
        </div>
        <h1 data-testid={testid}>{item.name}</h1>
        <div className="muted small">
          <Status value={item.status} /> revision {item.revision} · id <span className="mono">{item.id}</span>
        </div>
        {item.description && <p>{item.description}</p>}
      </div>
      {children}
    </header>
  );
}

// fmtAge is a duration for people: "45 s", "12 min", "3 h 5 min", "2 d 4 h".
export function fmtAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

// Since is how long ago a time was, with the time itself on hover.
export function Since({ time, now = Date.now() }: { time?: string; now?: number }) {
  if (!time) return <span className="muted">—</span>;
  return <span title={fmtTime(time)}>{fmtAge(now - new Date(time).getTime())}</span>;
}

// Due is a deadline relative to now: "in 3 h", or "overdue by 5 min".
export function Due({ time, now = Date.now() }: { time?: string; now?: number }) {
  if (!time) return <span className="muted">—</span>;
  const left = new Date(time).getTime() - now;
  return (
    <span className={left < 0 ? "error-text" : left < 3600_000 ? "due-soon" : ""} title={fmtTime(time)}>
      {left < 0 ? `overdue by ${fmtAge(-left)}` : `in ${fmtAge(left)}`}
    </span>
  );
}
