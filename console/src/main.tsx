import { StrictMode, useEffect, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import "@xyflow/react/dist/style.css";
import "./styles.css";
import { get, getKey, setAuthListener, setKey } from "./api";
import { useLocation } from "./router";
import { Link } from "./ui";
import { Dashboard } from "./pages/Dashboard";
import { Workflows } from "./pages/Workflows";
import { WorkflowDetail } from "./pages/WorkflowDetail";
import { Executions } from "./pages/Executions";
import { ExecutionDetail } from "./pages/ExecutionDetail";
import { Audit } from "./pages/Audit";
import { Configurations } from "./pages/Configurations";

const NAV: [string, string][] = [
  ["/console", "Dashboard"],
  ["/console/workflows", "Workflows"],
  ["/console/executions", "Executions"],
  ["/console/audit", "Audit"],
  ["/console/configurations", "Configurations"],
];

function route(path: string, search: URLSearchParams) {
  const m = (re: RegExp) => path.match(re);
  let r;
  if ((r = m(/^\/console\/workflows\/([^/]+)$/))) return <WorkflowDetail id={decodeURIComponent(r[1])} />;
  if (path === "/console/workflows") return <Workflows />;
  if ((r = m(/^\/console\/executions\/([^/]+)$/))) return <ExecutionDetail id={decodeURIComponent(r[1])} />;
  if (path === "/console/executions") return <Executions search={search} />;
  if (path === "/console/audit") return <Audit />;
  if (path === "/console/configurations") return <Configurations />;
  if (path === "/console") return <Dashboard />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No console page at this address. <Link to="/console">Go to the dashboard.</Link>
      </p>
    </section>
  );
}

type Auth = { state: "probing" | "open" | "key" | "prompt"; reason?: string };

function App() {
  const { path, search } = useLocation();
  const [auth, setAuth] = useState<Auth>({ state: "probing" });
  const [gen, setGen] = useState(0);

  const probe = async () => {
    try {
      await get("/v1/dashboards/workflows/summary");
      setAuth({ state: getKey() ? "key" : "open" });
    } catch {
      // a 401 has already asked for a key through the listener
    }
  };

  useEffect(() => {
    setAuthListener((reason) => {
      setKey("");
      setAuth({ state: "prompt", reason });
    });
    void probe();
  }, []);

  const submitKey = async (k: string) => {
    setKey(k);
    setAuth({ state: "probing" });
    await probe();
    setGen((g) => g + 1);
  };

  const current = NAV.filter(([to]) => path === to || (to !== "/console" && path.startsWith(to + "/"))).map(([to]) => to)[0];
  return (
    <div className="app">
      <header className="top">
        <div className="brand">
          Flowker <span>console</span>
        </div>
        <nav>
          {NAV.map(([to, label]) => (
            <Link key={to} to={to} className={current === to ? "active" : ""}>
              {label}
            </Link>
          ))}
          <a href="/docs" target="_blank" rel="noopener noreferrer">
            API reference ↗
          </a>
        </nav>
        {auth.state === "key" && (
          <button
            className="link"
            onClick={() => {
              setKey("");
              setAuth({ state: "prompt", reason: "Signed out. Enter an API key to continue." });
            }}
          >
            Forget API key
          </button>
        )}
      </header>
      {auth.state === "open" && (
        <div className="banner" data-testid="auth-disabled">
          Authentication is disabled on this server: anyone who can reach it can read and change workflows and executions.
        </div>
      )}
      <main>{auth.state === "prompt" ? <KeyPrompt reason={auth.reason ?? ""} onSubmit={submitKey} /> : auth.state === "probing" ? <p className="muted">Connecting…</p> : <div key={gen}>{route(path, search)}</div>}</main>
    </div>
  );
}

function KeyPrompt({ reason, onSubmit }: { reason: string; onSubmit: (k: string) => void }) {
  const [value, setValue] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) onSubmit(value.trim());
  };
  return (
    <form className="panel key-prompt" onSubmit={submit} data-testid="key-prompt">
      <h2>API key</h2>
      <p>{reason}</p>
      <p className="muted small">The key is kept in this tab's session storage only and sent as the X-API-Key header.</p>
      <input type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} placeholder="X-API-Key" data-testid="key-input" autoFocus />
      <button className="primary" type="submit" data-testid="key-submit">
        Continue
      </button>
    </form>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
