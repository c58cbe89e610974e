import { StrictMode, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import "@xyflow/react/dist/style.css";
import "./styles.css";
import { clearCredentials, credential, errorText, get, isApiError, setAuthListener, setKey, type AuthNeeded, type Me } from "./api";
import { dropAllDrafts } from "./drafts";
import { CALLBACK_PATH, completeSignIn, oidcSettings } from "./oidc";
import { useLocation } from "./router";
import { PERM, SessionContext, permits, writes, type Perm, type Session } from "./session";
import { useOpenReviews } from "./lookup";
import { Link } from "./ui";
import { SignIn, signInOptions, type Reason, type SignInOptions } from "./SignIn";
import { Dashboard } from "./pages/Dashboard";
import { Workflows } from "./pages/Workflows";
import { WorkflowDetail } from "./pages/WorkflowDetail";
import { Executions } from "./pages/Executions";
import { ExecutionDetail } from "./pages/ExecutionDetail";
import { Audit } from "./pages/Audit";
import { Configurations, ProviderConfigDetail } from "./pages/Configurations";
import { ExecutorDetail, Executors } from "./pages/Executors";
import { Catalog } from "./pages/Catalog";
import { ReviewDetail, Reviews } from "./pages/Reviews";

// The header's pages, each shown to callers who may read its family.
const NAV: { to: string; label: string; perm: Perm }[] = [
  { to: "/console", label: "Dashboard", perm: PERM.dashboardsRead },
  { to: "/console/workflows", label: "Workflows", perm: PERM.workflowsRead },
  { to: "/console/executions", label: "Executions", perm: PERM.executionsRead },
  { to: "/console/reviews", label: "Reviews", perm: PERM.reviewsRead },
  { to: "/console/configurations", label: "Configurations", perm: PERM.providerConfigsRead },
  { to: "/console/executors", label: "Executors", perm: PERM.executorConfigsRead },
  { to: "/console/catalog", label: "Catalog", perm: PERM.catalogRead },
  { to: "/console/audit", label: "Audit", perm: PERM.auditRead },
];

function page(path: string, search: URLSearchParams): [ReactNode, Perm] | null {
  const m = (re: RegExp) => path.match(re);
  const id = (r: RegExpMatchArray) => decodeURIComponent(r[1]);
  let r;
  if ((r = m(/^\/console\/workflows\/([^/]+)$/))) return [<WorkflowDetail id={id(r)} />, PERM.workflowsRead];
  if (path === "/console/workflows") return [<Workflows search={search} />, PERM.workflowsRead];
  if ((r = m(/^\/console\/executions\/([^/]+)$/))) return [<ExecutionDetail id={id(r)} />, PERM.executionsRead];
  if (path === "/console/executions") return [<Executions search={search} />, PERM.executionsRead];
  if ((r = m(/^\/console\/reviews\/([^/]+)$/))) return [<ReviewDetail id={id(r)} />, PERM.reviewsRead];
  if (path === "/console/reviews") return [<Reviews search={search} />, PERM.reviewsRead];
  if (path === "/console/audit") return [<Audit />, PERM.auditRead];
  if ((r = m(/^\/console\/configurations\/([^/]+)$/))) return [<ProviderConfigDetail id={id(r)} />, PERM.providerConfigsRead];
  if (path === "/console/configurations") return [<Configurations />, PERM.providerConfigsRead];
  if ((r = m(/^\/console\/executors\/([^/]+)$/))) return [<ExecutorDetail id={id(r)} />, PERM.executorConfigsRead];
  if (path === "/console/executors") return [<Executors search={search} />, PERM.executorConfigsRead];
  if (path === "/console/catalog") return [<Catalog search={search} />, PERM.catalogRead];
  if (path === "/console") return [<Dashboard />, PERM.dashboardsRead];
  return null;
}

function Route({ path, search, session }: { path: string; search: URLSearchParams; session: Session }) {
  const p = page(path, search);
  const allowed = NAV.filter((n) => session.can(n.perm));
  if (!p)
    return (
      <section>
        <h1>Not found</h1>
        <p>
          No console page at this address. <Link to={allowed[0]?.to ?? "/console"}>Go to the start page.</Link>
        </p>
      </section>
    );
  if (session.can(p[1])) return <>{p[0]}</>;
  // The start page for callers who may not read the dashboards.
  if (path === "/console" && allowed.length > 0) {
    return (
      <section>
        <h1>Welcome{session.me ? ", " + session.me.actor.id : ""}</h1>
        <p>Your credentials let you open:</p>
        <ul className="plain start-links">
          {allowed.map((n) => (
            <li key={n.to}>
              <Link to={n.to}>{n.label} →</Link>
            </li>
          ))}
        </ul>
      </section>
    );
  }
  return (
    <section data-testid="forbidden">
      <h1>Not allowed</h1>
      <p>
        Your credentials do not include the permission <span className="mono">{p[1]}</span> this page needs.
      </p>
    </section>
  );
}

type Auth =
  | { state: "probing" }
  | { state: "ready"; me: Me | null; open: boolean }
  | { state: "signin"; reason: Reason; options: SignInOptions }
  | { state: "failed"; error: unknown };

// whoAmI asks /v1/me; a server without it (404) is probed the old way and
// shows everything (its API refuses what the caller may not do).
async function whoAmI(): Promise<Me | null> {
  try {
    return await get<Me>("/v1/me");
  } catch (e) {
    if (!isApiError(e) || e.status !== 404) throw e;
  }
  try {
    await get("/v1/dashboards/workflows/summary");
  } catch (e) {
    if (!isApiError(e) || e.status !== 403) throw e; // a valid credential without dashboards:read
  }
  return null;
}

let callbackTaken = false;

function App() {
  const { path, search } = useLocation();
  const [auth, setAuth] = useState<Auth>({ state: "probing" });
  const [gen, setGen] = useState(0);
  // Why the sign-in screen is shown, kept while the console learns (from
  // an unauthenticated 401) which credentials the server accepts.
  const reason = useRef<Reason | null>(null);

  const probe = async () => {
    try {
      const me = await whoAmI();
      reason.current = null;
      const open = me ? me.authentication === "disabled" : credential().kind === "none";
      setAuth({ state: "ready", me, open });
      setGen((g) => g + 1);
    } catch (e) {
      // a 401 has already gone to the listener, which shows the sign-in
      if (!isApiError(e) || e.status !== 401) setAuth({ state: "failed", error: e });
    }
  };

  useEffect(() => {
    setAuthListener((a: AuthNeeded) => {
      if (a.sent !== "none") {
        if (credential().value !== a.credential) return; // another request's 401 already handled it
        clearCredentials();
        reason.current = {
          text: a.sent === "token" ? `Your sign-in is no longer accepted (${a.message}). Sign in again.` : "The API key was refused. Enter a valid key.",
          alert: true,
        };
        void probe(); // without a credential: the 401 names what the server accepts
        return;
      }
      const options = signInOptions(a);
      setAuth({ state: "signin", reason: reason.current ?? { text: options.oidc ? "Sign in to continue." : "This server requires an API key.", alert: false }, options });
    });
    const oidc = oidcSettings();
    if (window.location.pathname === CALLBACK_PATH && oidc && !callbackTaken) {
      callbackTaken = true; // the code is exchanged once, even if the effect runs twice
      completeSignIn(oidc).then(
        (to) => {
          window.history.replaceState(null, "", to);
          window.dispatchEvent(new PopStateEvent("popstate"));
          void probe();
        },
        (e: unknown) => {
          window.history.replaceState(null, "", "/console");
          window.dispatchEvent(new PopStateEvent("popstate"));
          reason.current = { text: "Sign-in failed: " + errorText(e) + ".", alert: true };
          void probe();
        },
      );
    } else void probe();
  }, []);

  const session = useMemo<Session>(() => {
    const me = auth.state === "ready" ? auth.me : null;
    return { me, can: (p) => permits(me, p) };
  }, [auth]);

  const signOut = () => {
    const kind = credential().kind;
    clearCredentials();
    dropAllDrafts(); // a deliberate sign-out leaves no unsaved text for the next person
    reason.current = { text: kind === "token" ? "Signed out." : "API key forgotten. Enter an API key to continue.", alert: false };
    void probe();
  };

  const nav = auth.state === "ready" ? NAV.filter((n) => session.can(n.perm)) : [];
  const current = nav.filter((n) => path === n.to || (n.to !== "/console" && path.startsWith(n.to + "/"))).map((n) => n.to)[0];
  const me = auth.state === "ready" ? auth.me : null;
  const signedIn = auth.state === "ready" && credential().kind !== "none";
  let body: ReactNode;
  switch (auth.state) {
    case "signin":
      body = (
        <SignIn
          reason={auth.reason}
          options={auth.options}
          returnTo={path === CALLBACK_PATH ? "/console" : path + (search.toString() ? "?" + search.toString() : "")}
          onKey={(k) => {
            setKey(k);
            setAuth({ state: "probing" });
            void probe();
          }}
        />
      );
      break;
    case "probing":
      body = <p className="muted">Connecting…</p>;
      break;
    case "failed":
      body = (
        <div className="panel">
          <div className="error">Cannot reach the server: {errorText(auth.error)}</div>
          <button onClick={() => (setAuth({ state: "probing" }), void probe())}>Try again</button>
        </div>
      );
      break;
    default:
      body = (
        <div key={gen}>
          <Route path={path} search={search} session={session} />
        </div>
      );
  }
  return (
    <SessionContext.Provider value={session}>
      <div className="app">
        <header className="top">
          <div className="brand">
            Flowker <span>console</span>
          </div>
          <nav>
            {nav.map((n) => (
              <Link key={n.to} to={n.to} className={current === n.to ? "active" : ""}>
                {n.label}
                {n.perm === PERM.reviewsRead && <OpenBadge />}
              </Link>
            ))}
            <a href="/docs" target="_blank" rel="noopener noreferrer">
              API reference ↗
            </a>
          </nav>
          {me && me.authentication !== "disabled" && (
            <span className="who" data-testid="actor" title={`${me.actor.type} ${me.actor.id}: ${me.permissions.join(", ")}`}>
              {me.actor.id}
              <span className="who-kind">
                {me.authentication === "oidc" ? "signed in" : "API key"}
                {writes(me) ? "" : " · read only"}
              </span>
            </span>
          )}
          {signedIn && (
            <button className="link" data-testid="sign-out" onClick={signOut}>
              {credential().kind === "token" ? "Sign out" : "Forget API key"}
            </button>
          )}
        </header>
        {auth.state === "ready" && auth.open && (
          <div className="banner" data-testid="auth-disabled">
            Authentication is disabled on this server: anyone who can reach it can read and change workflows and executions.
          </div>
        )}
        <main>{body}</main>
      </div>
    </SessionContext.Provider>
  );
}

// OpenBadge counts the open reviews beside the Reviews link (none: hidden).
function OpenBadge() {
  const open = useOpenReviews(true);
  if (!open || open.count === 0) return null;
  const n = open.more ? `${open.count}+` : String(open.count);
  return (
    <span className="badge" data-testid="reviews-badge" title={`${n} open review${n === "1" ? "" : "s"}`}>
      {n}
    </span>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
