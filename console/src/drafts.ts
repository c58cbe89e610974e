// Unsaved text a user typed (the workflow editor, a start input), kept in
// sessionStorage (this tab) until it is saved or given up: a sign-in
// after a 401 — which replaces the page, or leaves it for the issuer and
// comes back — finds it again. Sign out and "Forget API key" drop it all.

const PREFIX = "flowker.draft.";

export function loadDraft<T>(key: string): T | undefined {
  try {
    const raw = sessionStorage.getItem(PREFIX + key);
    return raw ? (JSON.parse(raw) as T) : undefined;
  } catch {
    return undefined;
  }
}

export function saveDraft(key: string, value: unknown) {
  try {
    sessionStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // storage full or unavailable: the draft lives as long as the page
  }
}

export function dropDraft(key: string) {
  try {
    sessionStorage.removeItem(PREFIX + key);
  } catch {
    // nothing kept
  }
}

export function dropAllDrafts() {
  try {
    for (const k of Object.keys(sessionStorage)) if (k.startsWith(PREFIX)) sessionStorage.removeItem(k);
  } catch {
    // nothing kept
  }
}
