import { createContext, useContext } from "react";
import type { Me } from "./api";

// The permissions the console checks, by route family (docs/security.md).
// Every permission check in the console goes through can(PERM.x).
export const PERM = {
  workflowsRead: "workflows:read",
  workflowsManage: "workflows:manage",
  executionsRead: "executions:read",
  executionsManage: "executions:manage",
  providerConfigsRead: "provider-configurations:read",
  providerConfigsManage: "provider-configurations:manage",
  executorConfigsRead: "executor-configurations:read",
  executorConfigsManage: "executor-configurations:manage",
  catalogRead: "catalog:read",
  dashboardsRead: "dashboards:read",
  auditRead: "audit-events:read",
  reviewsRead: "reviews:read",
  reviewsDecide: "reviews:decide",
} as const;
export type Perm = (typeof PERM)[keyof typeof PERM];

// permits says whether the caller holds perm. Without /v1/me (an older
// server: me is null) everything is shown and the API refuses what it must;
// resource:manage implies resource:read, reviews:decide reviews:read.
export function permits(me: Me | null, perm: Perm): boolean {
  if (!me) return true;
  const held = me.permissions ?? [];
  if (held.includes(perm)) return true;
  if (perm === PERM.reviewsRead) return held.includes(PERM.reviewsDecide);
  return perm.endsWith(":read") && held.includes(perm.replace(/:read$/, ":manage"));
}

// mayDecide says whether the caller may decide a review of group ("" for
// none): reviews:decide, and for a group also reviews:decide:<group> or
// reviews:decide:* — the rule of the API (internal/httpapi/reviews.go).
export function mayDecide(me: Me | null, group = ""): boolean {
  if (!me) return true;
  const held = me.permissions ?? [];
  if (!held.includes(PERM.reviewsDecide)) return false;
  return !group || held.includes("reviews:decide:*") || held.includes("reviews:decide:" + group);
}

// writes says whether the caller may change anything: a :manage
// permission, or deciding reviews.
export function writes(me: Me): boolean {
  return me.permissions.some((p) => p.endsWith(":manage") || p.startsWith(PERM.reviewsDecide));
}

export type Session = { me: Me | null; can: (perm: Perm) => boolean };

export const SessionContext = createContext<Session>({ me: null, can: () => true });

// useCan returns the caller's permission check.
export function useCan(): (perm: Perm) => boolean {
  return useContext(SessionContext).can;
}

// useMe returns who the caller is (null: a server without /v1/me).
export function useMe(): Me | null {
  return useContext(SessionContext).me;
}
