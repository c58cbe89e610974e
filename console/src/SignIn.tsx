import { useState, type FormEvent } from "react";
import { errorText, type AuthNeeded } from "./api";
import { beginSignIn, issuerHost, oidcSettings } from "./oidc";

export type SignInOptions = { oidc: boolean; keys: boolean };
// Reason is why the sign-in screen shows; alert for a refusal or failure.
export type Reason = { text: string; alert: boolean };

// signInOptions reads an unauthenticated 401: a Bearer challenge means the
// server takes tokens; it takes API keys when it has no challenge (keys
// only) or its message names X-API-Key (both). OIDC sign-in needs the
// console's client id too (CONSOLE_OIDC_CLIENT_ID).
export function signInOptions(a: AuthNeeded): SignInOptions {
  const bearer = /^\s*bearer\b/i.test(a.challenge);
  const oidc = oidcSettings() !== null;
  return { oidc, keys: !bearer || /X-API-Key/i.test(a.message) || !oidc };
}

export function SignIn({ reason, options, returnTo, onKey }: { reason: Reason; options: SignInOptions; returnTo: string; onKey: (k: string) => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [leaving, setLeaving] = useState(false);
  const oidc = options.oidc ? oidcSettings() : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) onKey(value.trim());
  };
  const signIn = async () => {
    if (!oidc) return;
    setLeaving(true);
    setError(null);
    try {
      await beginSignIn(oidc, returnTo);
    } catch (e) {
      setError(e);
      setLeaving(false);
    }
  };
  return (
    <div className="panel key-prompt" data-testid="sign-in">
      <h2>Sign in to Flowker</h2>
      <p data-testid="sign-in-reason" className={reason.alert ? "error" : ""} role={reason.alert ? "alert" : undefined}>
        {reason.text}
      </p>
      {error !== null && (
        <div className="error" role="alert">
          {errorText(error)}
        </div>
      )}
      {oidc && (
        <>
          <button className="primary big-button" data-testid="oidc-sign-in" disabled={leaving} onClick={() => void signIn()}>
            Sign in with {issuerHost(oidc)}
          </button>
          <p className="muted small">You will be sent to your organisation's sign-in page and brought back here. The access token is kept in this tab only.</p>
        </>
      )}
      {oidc && options.keys && <div className="or">or</div>}
      {options.keys && (
        <form onSubmit={submit} data-testid="key-prompt" className="key-form">
          <label className="block">
            API key
            <input type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} placeholder="X-API-Key" data-testid="key-input" autoFocus={!oidc} />
          </label>
          <button className={oidc ? "" : "primary"} type="submit" data-testid="key-submit">
            Continue with the key
          </button>
          <p className="muted small">The key is kept in this tab's session storage only and sent as the X-API-Key header.</p>
        </form>
      )}
    </div>
  );
}
