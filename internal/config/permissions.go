package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Permissions, resource:action (docs/security.md). The one list both
// API_KEY_PERMISSIONS and httpapi's route table name: config is the package
// they both may import.
const (
	PermWorkflowsRead         = "workflows:read"
	PermWorkflowsManage       = "workflows:manage"
	PermExecutionsRead        = "executions:read"
	PermExecutionsManage      = "executions:manage"
	PermProviderConfigsRead   = "provider-configurations:read"
	PermProviderConfigsManage = "provider-configurations:manage"
	PermExecutorConfigsRead   = "executor-configurations:read"
	PermExecutorConfigsManage = "executor-configurations:manage"
	PermCatalogRead           = "catalog:read"
	PermDashboardsRead        = "dashboards:read"
	PermAuditEventsRead       = "audit-events:read"
	PermWebhooksExecute       = "webhooks:execute"
	PermReviewsRead           = "reviews:read"
	PermReviewsDecide         = "reviews:decide"
	// PermReviewsDecideGroup prefixes a review group: reviews:decide:<group>
	// lets its holder decide the reviews of that group (on top of
	// reviews:decide); PermReviewsDecideAnyGroup, reviews:decide:*, every
	// group's.
	PermReviewsDecideGroup    = "reviews:decide:"
	PermReviewsDecideAnyGroup = PermReviewsDecideGroup + "*"
)

// reviewGroup is a review group's name, as a review node's group is.
var reviewGroup = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// known reports whether p is a permission: one of Permissions() or
// reviews:decide:<group>.
func known(p string) bool {
	group, isGroup := strings.CutPrefix(p, PermReviewsDecideGroup)
	return slices.Contains(Permissions(), p) || isGroup && reviewGroup.MatchString(group)
}

// impliedRead: managing a resource includes reading it, so every token and
// key that held a :manage permission before the :read ones existed keeps
// reading what it could.
var impliedRead = map[string]string{
	PermWorkflowsManage:       PermWorkflowsRead,
	PermExecutionsManage:      PermExecutionsRead,
	PermProviderConfigsManage: PermProviderConfigsRead,
	PermExecutorConfigsManage: PermExecutorConfigsRead,
	PermReviewsDecide:         PermReviewsRead,
}

// Permissions returns every permission, sorted.
func Permissions() []string {
	all := []string{PermCatalogRead, PermDashboardsRead, PermAuditEventsRead, PermWebhooksExecute,
		PermReviewsDecideAnyGroup}
	for manage, read := range impliedRead {
		all = append(all, manage, read)
	}
	slices.Sort(all)
	return all
}

// Grant returns what perms grant, sorted, without duplicates: each known
// permission and the :read its :manage implies. Unknown names grant nothing
// (a token's scope claim also carries openid, profile…).
func Grant(perms []string) []string {
	var out []string
	for _, p := range perms {
		if known(p) {
			out = append(out, p)
		}
		if read, ok := impliedRead[p]; ok {
			out = append(out, read)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// keyPermissions reads API_KEY_PERMISSIONS, id=perm|perm entries separated by
// commas ("*": every permission), into keys. A key not listed keeps every
// permission, as before the variable existed.
func (r *reader) keyPermissions(keys []APIKey) {
	const name = "API_KEY_PERMISSIONS"
	seen := map[string]bool{}
	for i, entry := range r.list(name) {
		id, list, ok := strings.Cut(entry, "=")
		id = strings.TrimSpace(id)
		at := slices.IndexFunc(keys, func(k APIKey) bool { return k.ID == id })
		where := fmt.Sprintf("entry %d (id %q)", i+1, id)
		switch {
		case !ok:
			r.fail(name, fmt.Sprintf("entry %d is not id=permission|permission", i+1))
			continue
		case seen[id]:
			r.fail(name, where+": the id is listed twice")
			continue
		case at < 0:
			r.fail(name, where+": no key has this id in API_KEY or API_KEYS")
			continue
		}
		seen[id] = true
		var perms []string
		for _, p := range strings.Split(list, "|") {
			if p = strings.TrimSpace(p); p != "" {
				perms = append(perms, p)
			}
		}
		if len(perms) == 0 {
			r.fail(name, where+": the permission list is empty (give at least one, or * for all)")
			continue
		}
		for _, p := range perms {
			if p != "*" && !known(p) {
				r.fail(name, fmt.Sprintf("%s: unknown permission %q; known: * or %s, or %s<group>", where, p,
					strings.Join(Permissions(), ", "), PermReviewsDecideGroup))
			}
		}
		if !slices.Contains(perms, "*") {
			keys[at].Permissions = perms
		}
	}
}
