// The console's only door to the server: the public /v1 API.
// The credential — an API key, or an OIDC access token after sign-in — lives
// in sessionStorage (this tab, until it closes), never in localStorage, a
// cookie or a URL; the key travels as X-API-Key, the token as
// Authorization: Bearer.

const KEY_STORE = "flowker.apiKey";
const TOKEN_STORE = "flowker.oidc.token";

export type ApiError = { status: number; code: string; message: string };

export type Page<T> = { items: T[]; nextCursor: string; hasMore: boolean };

// AuthNeeded describes a 401: the credential the request carried and what
// the server said (its WWW-Authenticate names the mechanisms it accepts).
export type AuthNeeded = { sent: "key" | "token" | "none"; credential: string; message: string; challenge: string };
type AuthListener = (a: AuthNeeded) => void;
let onAuthNeeded: AuthListener = () => {};

export function setAuthListener(fn: AuthListener) {
  onAuthNeeded = fn;
}

function stored(name: string): string {
  try {
    return sessionStorage.getItem(name) ?? "";
  } catch {
    return "";
  }
}

function store(name: string, value: string) {
  if (value) sessionStorage.setItem(name, value);
  else sessionStorage.removeItem(name);
}

export const getKey = () => stored(KEY_STORE);
export const setKey = (key: string) => store(KEY_STORE, key);
export const getToken = () => stored(TOKEN_STORE);
export const setToken = (token: string) => store(TOKEN_STORE, token);

// credential is what the next request sends: a token from a sign-in wins.
export function credential(): { kind: "key" | "token" | "none"; value: string } {
  const t = getToken();
  if (t) return { kind: "token", value: t };
  const k = getKey();
  return k ? { kind: "key", value: k } : { kind: "none", value: "" };
}

export function clearCredentials() {
  setKey("");
  setToken("");
}

// meta reads a setting the server wrote into index.html (console.go).
export function meta(name: string): string {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute("content") ?? "";
}

export function isApiError(e: unknown): e is ApiError {
  return typeof e === "object" && e !== null && "status" in e && "code" in e;
}

export function errorText(e: unknown): string {
  if (isApiError(e)) return e.code ? `${e.code}: ${e.message}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

// RawJSON is a request body sent as the text it holds, unchanged: what a
// user typed (a start input, a workflow definition, template parameters)
// goes to the API verbatim, so a number JSON.parse would round
// (9007199254740993, 0.10000000000000000555, -0) reaches the API as typed,
// and the API keeps it or refuses it (FLK-0001, "send it as a string").
export class RawJSON {
  constructor(readonly text: string) {}
}

// checkJSON validates text as JSON (JSON.parse, only to validate: the
// parsed value is not what is sent); it throws an Error saying what is wrong.
export function checkJSON(what: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(what + " is not valid JSON: " + (e instanceof Error ? e.message : String(e)));
  }
}

export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  return (await apiFull<T>(method, path, body, headers)).data;
}

// apiFull also returns the ETag, for conditional writes (If-Match), and
// the answer's text as received (numbers as the server wrote them).
export async function apiFull<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ data: T; etag: string; text: string }> {
  const h: Record<string, string> = { Accept: "application/json", ...headers };
  const cred = credential();
  if (cred.kind === "key") h["X-API-Key"] = cred.value;
  if (cred.kind === "token") h["Authorization"] = "Bearer " + cred.value;
  if (body !== undefined) h["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : body instanceof RawJSON ? body.text : JSON.stringify(body), credentials: "omit", cache: "no-store" });
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
      onAuthNeeded({ sent: cred.kind, credential: cred.value, message: err.message, challenge: res.headers.get("WWW-Authenticate") ?? "" });
    }
    throw err;
  }
  return { data: data as T, etag: res.headers.get("ETag") ?? "", text };
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
  const t = meta("flowker-trace-url");
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

// Review tasks (GET /v1/reviews): what a waiting execution's review node
// asks of analysts, with the votes cast so far.
export type ReviewVote = { decision: string; comment?: string; actor: { type: string; id: string }; decidedAt: string };
export type Review = {
  id: string; executionId: string; workflowId: string; nodeId: string; status: "open" | "resolved" | "expired" | "cancelled";
  title: string; instructions?: string; context: Record<string, unknown>; decisions: string[]; requiredApprovals: number;
  group?: string; defaultDecision?: string; dueAt?: string; createdAt: string; resolvedAt?: string; decision?: string;
  votes: ReviewVote[];
};
export const REVIEW_STATUSES = ["open", "resolved", "expired", "cancelled"] as const;
export const EXECUTION_STATUSES = ["pending", "running", "waiting", "completed", "failed", "cancelled"] as const;
// The node types that pause an execution (docs/waiting.md).
export const WAIT_TYPES = ["review", "wait_for_callback", "delay"];

// approvals counts the distinct identities that approved a review.
export function approvals(r: Review): number {
  return new Set(r.votes.filter((v) => v.decision === "approve").map((v) => v.actor.type + ":" + v.actor.id)).size;
}

export type Endpoint = { name: string; path: string; method: string; timeout: number };
export type ExecutorConfig = {
  id: string; name: string; description?: string; baseUrl: string; endpoints: Endpoint[];
  authentication: { type: string; config?: Record<string, unknown> }; status: string; metadata?: Record<string, unknown>;
  revision: number; createdAt: string; updatedAt: string; lastTestedAt?: string;
};
export type StageResult = { name: string; status: string; durationMs: number; message?: string; error?: string; details?: Record<string, unknown> };
export type TestResult = {
  overallStatus: string; durationMs: number; stages: StageResult[]; summary: string; startedAt: string; completedAt: string;
  status?: string; // an executor configuration's status after the test
};
export type CatalogExecutor = { id: string; name: string; category: string; version: string; providerId?: string; schema?: string };
export type CatalogProvider = { id: string; name: string; description: string; version: string; configSchema?: string };
export type CatalogTrigger = { id: string; name: string; version: string; schema?: string };

// Me is GET /v1/me: who the caller is and what it may do.
export type Me = { authentication: "api_key" | "oidc" | "disabled"; actor: { type: string; id: string }; permissions: string[] };
