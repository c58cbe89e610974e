package httpapi

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sync"

	"github.com/gofiber/fiber/v2"
	"go.yaml.in/yaml/v3"

	"flowker/internal/flow"
)

// The API's contract: an OpenAPI 3.1 document kept as YAML next to the
// code (the httpapi tests validate every response against it and compare
// its paths with the router's), served as JSON, and rendered by an
// embedded copy of Redoc (scripts/update-apidocs.sh refreshes it).

//go:embed openapi/openapi.yaml
var openapiYAML []byte

//go:embed apidocs
var apidocs embed.FS

// openapiJSON converts the document once; the embedded YAML is checked by
// the tests, so a failure here is a programming error.
var openapiJSON = sync.OnceValue(func() []byte {
	b, err := yamlToJSON(openapiYAML)
	if err != nil {
		panic("httpapi: openapi/openapi.yaml: " + err.Error())
	}
	return b
})

// OpenAPI returns the API's OpenAPI 3.1 document as JSON, exactly as
// GET /openapi.json serves it.
func OpenAPI() []byte { return bytes.Clone(openapiJSON()) }

// docsCSP lets the reference page load its own script and the document and
// nothing else. Redoc styles with styled-components, which injects <style>
// elements at run time: that needs style-src 'unsafe-inline' (styles only;
// scripts stay 'self'). Its search index runs in a worker built from a blob.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsPage loads the embedded Redoc script, which renders the <redoc>
// element from spec-url; no inline script.
const docsPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flowker API reference</title>
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
`

// docAssets are the files under apidocs/ served at /docs/<name>.
var docAssets = map[string]string{
	"redoc.standalone.js":             "text/javascript; charset=utf-8",
	"redoc.standalone.js.LICENSE.txt": "text/plain; charset=utf-8",
	"LICENSE":                         "text/plain; charset=utf-8", // Redoc's (MIT)
}

// docRoutes are public, like the health routes: outside /v1, so neither
// authentication nor rate limiting applies.
func (a *api) docRoutes(app *fiber.App) {
	app.Get("/openapi.json", a.openapi)
	app.Get("/docs", a.docs)
	app.Get("/docs/:asset", a.docsAsset)
}

func (a *api) openapi(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openapiJSON())
}

func (a *api) docs(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, docsCSP)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(docsPage)
}

func (a *api) docsAsset(c *fiber.Ctx) error {
	name := c.Params("asset")
	ctype, ok := docAssets[name]
	if !ok {
		return flow.Errorf(flow.KindNotFound, flow.CodeRouteNotFound, "no route for %s %s", c.Method(), c.Path())
	}
	body, err := apidocs.ReadFile(path.Join("apidocs", name))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Status(http.StatusOK).Send(body)
}

// yamlToJSON converts a YAML document to JSON, keeping the order of keys
// (so the served document reads like the source) and resolving anchors.
func yamlToJSON(src []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := writeJSON(&b, &doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return errors.New("expected one YAML document")
		}
		return writeJSON(b, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(b, n.Alias)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: only scalar keys are supported (no merge keys)", k.Line)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value) // a string always marshals
			b.Write(key)
			b.WriteByte(':')
			if err := writeJSON(b, v); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, v); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b.Write(out)
	default:
		return fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	return nil
}
