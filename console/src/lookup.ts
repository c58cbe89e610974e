import { useEffect, useState, useSyncExternalStore } from "react";
import { get, type Page, type Review, type Workflow } from "./api";

// Shared look-ups several pages show: workflow names by id, and the number
// of open reviews (the header's badge, the dashboard's card).

// ---- workflow names ----

const names = new Map<string, string>(); // id → name; "" while unknown or unreadable
const asked = new Set<string>();

// useWorkflowNames resolves workflow ids to names (GET /v1/workflows/{id}
// once per id and page load); enabled only with workflows:read.
export function useWorkflowNames(ids: string[], enabled: boolean): (id: string) => string {
  const [, setVersion] = useState(0);
  const key = [...new Set(ids)].sort().join(",");
  useEffect(() => {
    if (!enabled || !key) return;
    let live = true;
    const missing = key.split(",").filter((id) => !asked.has(id));
    for (const id of missing) {
      asked.add(id);
      get<Workflow>(`/v1/workflows/${encodeURIComponent(id)}`).then(
        (w) => {
          names.set(id, w.name);
          if (live) setVersion((v) => v + 1);
        },
        () => undefined, // shown by id
      );
    }
    return () => {
      live = false;
    };
  }, [key, enabled]);
  return (id) => names.get(id) ?? "";
}

// useWorkflowList is the workflows by name (one page of 100) for a filter.
export function useWorkflowList(enabled: boolean): { id: string; name: string }[] {
  const [list, setList] = useState<{ id: string; name: string }[]>([]);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    get<Page<Workflow>>("/v1/workflows?limit=100&sortBy=name&sortOrder=ASC").then(
      (p) => {
        for (const w of p.items) names.set(w.id, w.name);
        if (live) setList(p.items.map((w) => ({ id: w.id, name: w.name })));
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [enabled]);
  return list;
}

// ---- open reviews ----

// OpenReviews: how many reviews are open (up to 100; more when hasMore)
// and since when the oldest waits — one GET /v1/reviews?status=open&limit=100
// &sortOrder=ASC every 15 s while a component shows it, and after a decision.
export type OpenReviews = { count: number; more: boolean; oldest?: string };

let open: OpenReviews | null = null;
const listeners = new Set<() => void>();
let timer = 0;
let seq = 0;

export function refreshOpenReviews() {
  if (listeners.size === 0) return;
  const n = ++seq;
  get<Page<Review>>("/v1/reviews?status=open&limit=100&sortOrder=ASC").then(
    (p) => {
      if (n !== seq) return;
      open = { count: p.items.length, more: p.hasMore, oldest: p.items[0]?.createdAt };
      listeners.forEach((l) => l());
    },
    () => undefined,
  );
}

function subscribe(l: () => void) {
  listeners.add(l);
  if (listeners.size === 1) {
    refreshOpenReviews();
    timer = window.setInterval(refreshOpenReviews, 15000);
  }
  return () => {
    listeners.delete(l);
    if (listeners.size === 0) window.clearInterval(timer);
  };
}

const none = () => () => {};

// useOpenReviews is the shared count; enabled only with reviews:read.
export function useOpenReviews(enabled: boolean): OpenReviews | null {
  const v = useSyncExternalStore(enabled ? subscribe : none, () => open);
  return enabled ? v : null;
}
