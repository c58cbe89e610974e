package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The served JSON keeps the source's key order, resolves anchors, and
// keeps scalars' types (a quoted status code stays a string key).
func TestYAMLToJSON(t *testing.T) {
	t.Parallel()
	got, err := yamlToJSON([]byte(`
b: 1
a:
  '200': &ok {description: "fine: yes", n: 1.5, flag: true, none: null, list: [x, 2]}
  '201': *ok
  text: |
    two
    lines
`))
	require.NoError(t, err)
	require.Equal(t, `{"b":1,"a":{"200":{"description":"fine: yes","n":1.5,"flag":true,"none":null,"list":["x",2]},`+
		`"201":{"description":"fine: yes","n":1.5,"flag":true,"none":null,"list":["x",2]},"text":"two\nlines\n"}}`,
		string(got))

	_, err = yamlToJSON([]byte("a: &x {k: 1}\nb:\n  <<: *x\n"))
	require.ErrorContains(t, err, "no merge keys")
	_, err = yamlToJSON([]byte("a: [unclosed"))
	require.Error(t, err)
	_, err = yamlToJSON([]byte("? [complex, key]\n: v\n"))
	require.ErrorContains(t, err, "only scalar keys")
}

// The embedded document converts (OpenAPI panics otherwise) and starts
// with its version, as written.
func TestOpenAPIJSONIsTheEmbeddedDocument(t *testing.T) {
	t.Parallel()
	doc := OpenAPI()
	require.Regexp(t, `^\{"openapi":"3\.1\.0","info":\{"title":"Flowker API"`, string(doc))
	doc[0] = 'x'
	require.Equal(t, byte('{'), OpenAPI()[0], "callers get a copy")
}
