// Sign-in at the OIDC issuer: the authorization code flow with PKCE (S256)
// as a public client, per OAuth 2.0 for Browser-Based Apps — state and
// nonce checked, the code exchanged with fetch at the token endpoint named by
// the issuer's discovery document, the access token kept in sessionStorage
// only (api.ts) and never left in a URL. No refresh token is asked for: when
// the access token expires, the user signs in again.
import { meta, setToken } from "./api";

const PENDING = "flowker.oidc.pending"; // this tab's sign-in in progress
export const CALLBACK_PATH = "/console/callback";

export type OidcSettings = { issuer: string; clientId: string; scopes: string };

// oidcSettings is what the server wrote into index.html; null when the
// console has no client id (CONSOLE_OIDC_CLIENT_ID unset).
export function oidcSettings(): OidcSettings | null {
  const issuer = meta("flowker-oidc-issuer");
  const clientId = meta("flowker-oidc-client-id");
  if (!issuer || !clientId) return null;
  return { issuer, clientId, scopes: meta("flowker-oidc-scopes") || "openid" };
}

export function issuerHost(s: OidcSettings): string {
  try {
    return new URL(s.issuer).host;
  } catch {
    return s.issuer;
  }
}

type Pending = { verifier: string; state: string; nonce: string; tokenEndpoint: string; redirectUri: string; returnTo: string };
type Discovery = { issuer?: unknown; authorization_endpoint?: unknown; token_endpoint?: unknown };

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(bytes: number): string {
  const b = new Uint8Array(bytes);
  crypto.getRandomValues(b);
  return b64url(b);
}

// endpoint accepts an http(s) URL from the discovery document.
function endpoint(v: unknown, what: string): string {
  if (typeof v === "string" && /^https?:\/\//i.test(v)) return v;
  throw new Error(`the issuer's discovery document has no usable ${what}`);
}

async function discover(issuer: string): Promise<{ authorize: string; token: string }> {
  const url = issuer.replace(/\/+$/, "") + "/.well-known/openid-configuration";
  let res: Response;
  try {
    res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "omit", cache: "no-store" });
  } catch (e) {
    throw new Error(`cannot reach the issuer's discovery document (${url}): ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!res.ok) throw new Error(`the issuer's discovery document (${url}) answered ${res.status}`);
  const d = (await res.json()) as Discovery;
  if (d.issuer !== issuer) throw new Error("the discovery document names another issuer");
  return { authorize: endpoint(d.authorization_endpoint, "authorization_endpoint"), token: endpoint(d.token_endpoint, "token_endpoint") };
}

// beginSignIn leaves for the issuer's authorization endpoint; the issuer
// sends the browser back to /console/callback.
export async function beginSignIn(s: OidcSettings, returnTo: string): Promise<void> {
  if (!window.isSecureContext || !crypto.subtle) {
    throw new Error("signing in needs a secure context: open the console over https:// (or on localhost)");
  }
  const d = await discover(s.issuer);
  const verifier = random(32); // 43 characters, as RFC 7636 asks at least
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  const p: Pending = { verifier, state: random(16), nonce: random(16), tokenEndpoint: d.token, redirectUri: location.origin + CALLBACK_PATH, returnTo };
  sessionStorage.setItem(PENDING, JSON.stringify(p));
  const u = new URL(d.authorize);
  const q = { response_type: "code", client_id: s.clientId, redirect_uri: p.redirectUri, scope: s.scopes, state: p.state, nonce: p.nonce, code_challenge: challenge, code_challenge_method: "S256" };
  for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
  window.location.assign(u.toString());
}

function claims(jwt: unknown): Record<string, unknown> {
  if (typeof jwt !== "string" || jwt.split(".").length !== 3) throw new Error("the issuer sent no ID token");
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const text = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
  return JSON.parse(text) as Record<string, unknown>;
}

// checkIDToken compares the ID token's iss, aud and nonce with this sign-in.
// Its signature is not checked: it came straight from the token endpoint,
// over the connection the console opened (OpenID Connect Core 3.1.3.7).
function checkIDToken(jwt: unknown, s: OidcSettings, nonce: string) {
  const c = claims(jwt);
  const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
  if (c.iss !== s.issuer) throw new Error("the ID token is from another issuer");
  if (!aud.includes(s.clientId)) throw new Error("the ID token is not meant for this console (aud)");
  if (c.nonce !== nonce) throw new Error("the ID token's nonce does not match this sign-in");
}

// completeSignIn runs on /console/callback: it takes the code off the
// address bar at once, checks state, exchanges the code and keeps the
// access token. It returns the page to go back to.
export async function completeSignIn(s: OidcSettings): Promise<string> {
  const q = new URLSearchParams(location.search);
  window.history.replaceState(null, "", CALLBACK_PATH);
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING); // one attempt per sign-in
  if (!raw) throw new Error("no sign-in was started in this tab");
  const p = JSON.parse(raw) as Pending;
  if (q.get("error")) throw new Error(`the identity provider answered ${q.get("error")}${q.get("error_description") ? ": " + q.get("error_description") : ""}`);
  if (!q.get("state") || q.get("state") !== p.state) throw new Error("the answer's state does not match the sign-in this tab started");
  if (q.get("iss") && q.get("iss") !== s.issuer) throw new Error("the answer comes from another issuer (iss)");
  const code = q.get("code");
  if (!code) throw new Error("the identity provider sent no authorization code");
  const body = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: p.redirectUri, client_id: s.clientId, code_verifier: p.verifier });
  let res: Response;
  try {
    res = await fetch(p.tokenEndpoint, { method: "POST", body, headers: { Accept: "application/json" }, credentials: "omit", cache: "no-store" });
  } catch (e) {
    throw new Error(`cannot reach the token endpoint: ${e instanceof Error ? e.message : String(e)}`);
  }
  const t = (await res.json().catch(() => ({}))) as { access_token?: unknown; token_type?: unknown; id_token?: unknown; error?: unknown; error_description?: unknown };
  if (!res.ok) {
    const why = typeof t.error === "string" ? t.error + (typeof t.error_description === "string" ? ` (${t.error_description})` : "") : `status ${res.status}`;
    throw new Error(`the identity provider refused the sign-in: ${why}`);
  }
  if (typeof t.access_token !== "string" || !t.access_token || String(t.token_type).toLowerCase() !== "bearer") {
    throw new Error("the identity provider sent no bearer access token");
  }
  checkIDToken(t.id_token, s, p.nonce);
  setToken(t.access_token);
  return p.returnTo.startsWith("/console") && !p.returnTo.startsWith(CALLBACK_PATH) ? p.returnTo : "/console";
}
