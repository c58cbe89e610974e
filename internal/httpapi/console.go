package httpapi

import (
	"bytes"
	"embed"
	"html"
	"io/fs"
	"maps"
	"mime"
	"path"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"

	"flowker/internal/config"
)

// The browser console (docs/console.md): a single-page application built
// from console/ by scripts/console-build.sh and embedded here, so the binary
// serves it with nothing else installed. It talks to the public /v1 API
// only, with the caller's own credentials; serving its files needs none.
//
//go:embed console/dist
var consoleFiles embed.FS

// consoleCSP allows the console's own scripts, styles and API calls only:
// no inline script, no eval, no framing, no other origin but those the OIDC
// sign-in fetches from (the issuer's discovery and token endpoint).
func consoleCSP(connect []string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
		"connect-src " + strings.Join(append([]string{"'self'"}, connect...), " ") +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

func (a *api) consoleRoutes(app *fiber.App) {
	dist, err := fs.Sub(consoleFiles, "console/dist")
	if err != nil {
		panic("httpapi: console files missing: " + err.Error())
	}
	index, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		panic("httpapi: console index.html missing (run scripts/console-build.sh): " + err.Error())
	}
	index = withMeta(index, consoleMeta(a.cfg))
	csp := consoleCSP(a.cfg.ConsoleOIDC.ConnectOrigins)
	serve := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentSecurityPolicy, csp)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		// Fixed file names (no content hashes): revalidate every time.
		c.Set(fiber.HeaderCacheControl, "no-cache")
		name := strings.TrimPrefix(path.Clean("/"+c.Params("*")), "/")
		if strings.HasPrefix(name, "assets/") {
			body, err := fs.ReadFile(dist, name)
			if err != nil {
				return fiber.ErrNotFound
			}
			if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
				c.Set(fiber.HeaderContentType, ct)
			}
			return c.Send(body)
		}
		// Any other path is a page of the single-page application.
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(index)
	}
	grp := app.Group("/console", compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	grp.Get("/", serve)
	grp.Get("/*", serve)
}

// consoleMeta is what the server tells the console outside /v1: each value
// goes into the content of an empty <meta name="…" content=""> tag of
// console/index.html. Empty values leave their tag empty.
func consoleMeta(cfg config.Config) map[string]string {
	m := map[string]string{"flowker-trace-url": cfg.ConsoleTraceURLTemplate}
	if o := cfg.ConsoleOIDC; o.ClientID != "" {
		m["flowker-oidc-issuer"] = cfg.OIDC.Issuer
		m["flowker-oidc-client-id"] = o.ClientID
		m["flowker-oidc-scopes"] = o.Scopes
	}
	return m
}

// withMeta writes the values, HTML-escaped, into their meta tags.
func withMeta(index []byte, values map[string]string) []byte {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		empty := []byte(`<meta name="` + name + `" content="">`)
		if !bytes.Contains(index, empty) {
			panic("httpapi: console index.html lacks " + string(empty) + " (run scripts/console-build.sh)")
		}
		if values[name] == "" {
			continue
		}
		tag := `<meta name="` + name + `" content="` + html.EscapeString(values[name]) + `">`
		index = bytes.Replace(index, empty, []byte(tag), 1)
	}
	return index
}
