import { useCallback, useEffect, useRef, useState, type ReactNode, type MouseEvent } from "react";
import { errorText, get, type Page } from "./api";
import { navigate } from "./router";

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className}>
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

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

// usePaged reads one page of a cursor-paginated list at a time; pages
// already seen keep their cursors so "Previous" needs no extra request.
export function usePaged<T>(path: string, params: string, pollMs: (items: T[]) => number) {
  const [cursors, setCursors] = useState<string[]>([""]);
  const [page, setPage] = useState<Page<T> | null>(null);
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
        setPage(p);
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

  return {
    items: page?.items ?? [],
    loaded: page !== null,
    error,
    loading,
    pageNumber: cursors.length,
    hasNext: !!page?.hasMore && !!page?.nextCursor,
    hasPrev: cursors.length > 1,
    next: () => page?.nextCursor && setCursors((c) => [...c, page.nextCursor]),
    prev: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    reload: load,
  };
}

export function Pager({ p }: { p: { pageNumber: number; hasNext: boolean; hasPrev: boolean; next: () => void; prev: () => void } }) {
  return (
    <div className="pager">
      <button onClick={p.prev} disabled={!p.hasPrev}>
        ← Previous
      </button>
      <span>Page {p.pageNumber}</span>
      <button onClick={p.next} disabled={!p.hasNext}>
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
