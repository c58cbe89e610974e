// The console's only door to the server: the public /v1 API.
// The API key lives in sessionStorage (this tab, until it closes), never in
// localStorage or a URL, and travels as the X-API-Key header.

const KEY_STORE = "flowker.apiKey";

export type ApiError = { status: number; code: string; message: string };

export type Page<T> = { items: T[]; nextCursor: string; hasMore: boolean };

type AuthListener = (reason: string) => void;
let onAuthNeeded: AuthListener = () => {};

export function setAuthListener(fn: AuthListener) {
  onAuthNeeded = fn;
}

export function getKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORE) ?? "";
  } catch {
    return "";
  }
}

export function setKey(key: string) {
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
}

export function isApiError(e: unknown): e is ApiError {
  return typeof e === "object" && e !== null && "status" in e && "code" in e;
}

export function errorText(e: unknown): string {
  if (isApiError(e)) return e.code ? `${e.code}: ${e.message}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  return (await apiFull<T>(method, path, body, headers)).data;
}

// apiFull also returns the ETag, for conditional writes (If-Match).
export async function apiFull<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ data: T; etag: string }> {
  const h: Record<string, string> = { Accept: "application/json", ...headers };
  const key = getKey();
  if (key) h["X-API-Key"] = key;
  if (body !== undefined) h["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit", cache: "no-store" });
  } catch (e) {
    throw { status: 0, code: "", message: "network error: " + (e instanceof Error ? e.message : String(e)) } as ApiError;
  }
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const d = (data ?? {}) as { code?: string; message?: string; title?: string };
    const err: ApiError = { status: res.status, code: d.code ?? String(res.status), message: d.message ?? d.title ?? res.statusText };
    if (res.status === 401) {
      onAuthNeeded(key ? "The API key was refused. Enter a valid key." : "This server requires an API key.");
    }
    throw err;
  }
  return { data: data as T, etag: res.headers.get("ETag") ?? "" };
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown, headers?: Record<string, string>) => api<T>("POST", path, body, headers);

// errorTarget names the node or edge a validation message is about:
// `node "x": …` or `edge "e1": …` (the first one named).
export function errorTarget(e: unknown): { kind: "node" | "edge"; id: string } | undefined {
  if (!isApiError(e)) return undefined;
  const m = /\b(node|edge) "((?:[^"\\]|\\.)*)"/.exec(e.message);
  if (!m) return undefined;
  let id = m[2];
  try {
    id = JSON.parse('"' + m[2] + '"') as string;
  } catch {
    // keep the raw text
  }
  return { kind: m[1] as "node" | "edge", id };
}

// traceURL is the execution's trace link, from the CONSOLE_TRACE_URL_TEMPLATE
// the server writes into <meta name="flowker-trace-url">; http(s) only.
export function traceURL(traceId?: string): string {
  if (!traceId || !/^[0-9a-f]{32}$/.test(traceId)) return "";
  const t = document.querySelector('meta[name="flowker-trace-url"]')?.getAttribute("content") ?? "";
  if (!/^https?:\/\//i.test(t)) return "";
  return t.split("{trace_id}").join(traceId);
}

// query builds "?a=1&b=2" from the non-empty values.
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? "?" + s : "";
}

// uuid4 works outside secure contexts too (crypto.randomUUID does not).
export function uuid4(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// Shapes of the API (the fields the console reads).
export type Position = { x: number; y: number };
export type WfNode = { id: string; type: string; name?: string; position?: Position; data?: Record<string, unknown> };
export type WfEdge = { id: string; source: string; target: string; sourceHandle?: string; condition?: string; label?: string };
export type Workflow = {
  id: string; name: string; description?: string; status: string; revision: number;
  nodes: WfNode[]; edges: WfEdge[]; metadata?: Record<string, unknown>; createdAt: string; updatedAt: string;
};
export type Execution = {
  executionId: string; workflowId: string; workflowRevision?: number; status: string;
  currentStepNumber: number; totalSteps: number; startedAt: string; completedAt?: string; errorMessage?: string; cancelRequested?: boolean;
  traceId?: string;
};
export type TemplateSummary = { id: string; name: string; description: string; version: string; category: string };
export type Template = TemplateSummary & { paramSchema: string };
export type Step = {
  stepNumber: number; stepName: string; nodeId: string; status: string; output?: unknown; errorMessage?: string;
  executedAt: string; durationMs: number; attempts?: number; input?: unknown; callDetails?: Record<string, unknown>;
};
export type Results = {
  executionId: string; workflowId: string; status: string; stepResults: Step[]; finalOutput?: Record<string, unknown>;
  errorMessage?: string; startedAt: string; completedAt?: string;
};
export type AuditEvent = {
  eventId: string; sequence: number; eventType: string; action: string; result: string; resourceId: string; resourceType: string;
  actor: { type: string; id: string; ipAddress?: string }; requestId?: string; metadata?: Record<string, unknown>;
  timestamp: string; hash: string; previousHash?: string;
};
export type ProviderConfig = {
  id: string; name: string; description?: string; providerId: string; config: Record<string, unknown>; status: string;
  revision: number; createdAt: string; updatedAt: string;
};

export const terminal = (s: string) => s === "completed" || s === "failed" || s === "cancelled";
