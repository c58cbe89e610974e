package httpapi

import (
	"bytes"
	"embed"
	"html"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
)

// The browser console (docs/console.md): a single-page application built
// from console/ by scripts/console-build.sh and embedded here, so the binary
// serves it with nothing else installed. It talks to the public /v1 API
// only, with the caller's own credentials; serving its files needs none.
//
//go:embed console/dist
var consoleFiles embed.FS

// consoleCSP allows the console's own scripts, styles and API calls only:
// no inline script, no eval, no other origin, no framing.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (a *api) consoleRoutes(app *fiber.App) {
	dist, err := fs.Sub(consoleFiles, "console/dist")
	if err != nil {
		panic("httpapi: console files missing: " + err.Error())
	}
	index, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		panic("httpapi: console index.html missing (run scripts/console-build.sh): " + err.Error())
	}
	index = withTraceURL(index, a.cfg.ConsoleTraceURLTemplate)
	serve := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentSecurityPolicy, consoleCSP)
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

// traceURLMeta is the empty tag in console/index.html that carries
// CONSOLE_TRACE_URL_TEMPLATE to the console (it reads nothing but /v1
// otherwise); the template is HTML-escaped into its content attribute.
const traceURLMeta = `<meta name="flowker-trace-url" content="">`

func withTraceURL(index []byte, template string) []byte {
	if template == "" {
		return index
	}
	if !bytes.Contains(index, []byte(traceURLMeta)) {
		panic("httpapi: console index.html lacks " + traceURLMeta + " (run scripts/console-build.sh)")
	}
	tag := `<meta name="flowker-trace-url" content="` + html.EscapeString(template) + `">`
	return bytes.Replace(index, []byte(traceURLMeta), []byte(tag), 1)
}
