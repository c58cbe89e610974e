import { useEffect, useState } from "react";

// A tiny router over the History API: every console path lives under /console.
export const BASE = "/console";

export function navigate(to: string) {
  if (window.location.pathname + window.location.search === to) return;
  window.history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useLocation(): { path: string; search: URLSearchParams } {
  const read = () => ({ path: window.location.pathname.replace(/\/+$/, "") || BASE, search: new URLSearchParams(window.location.search) });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const on = () => setLoc(read());
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return loc;
}
