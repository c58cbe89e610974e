package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"flowker/internal/config"
)

// GET /v1/me tells a client who it is and what it may do, so a console can
// show or hide actions instead of discovering 403s.
func (a *api) meRoutes(r fiber.Router) {
	r.Get("/me", a.me) // authenticatedOnly in routePermissions
}

type meActor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type meResponse struct {
	Authentication string   `json:"authentication"` // api_key, oidc or disabled
	Actor          meActor  `json:"actor"`
	Permissions    []string `json:"permissions"` // sorted, implied :read included
}

func (a *api) me(c *fiber.Ctx) error {
	p, _ := c.Locals(localPrincipal).(*principal)
	if p == nil { // authentication disabled: with it on, require answered 401
		return c.JSON(meResponse{Authentication: "disabled", Actor: meActor{actorAnonymous, actorAnonymous},
			Permissions: config.Permissions()})
	}
	mechanism := "oidc"
	if p.actorType == actorAPIKey {
		mechanism = "api_key"
	}
	perms := p.perms
	if perms == nil {
		perms = []string{} // a token without permissions: [], not null
	}
	return c.JSON(meResponse{Authentication: mechanism, Actor: meActor{p.actorType, p.id}, Permissions: perms})
}
