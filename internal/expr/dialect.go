package expr

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// translation is CEL text produced from a condition plus, for every byte of
// the CEL text (and one past the end), the byte offset in the original that
// produced it, so CEL's error positions can be reported on what the user
// wrote.
type translation struct {
	src    string
	cel    string
	origAt []int
}

// celKeywords are CEL's literal and operator words: a node id spelled like
// one is never rewritten, it would change what the expression means.
var celKeywords = map[string]bool{"true": true, "false": true, "null": true, "in": true}

// celReserved cannot be declared as variables (parser.reservedIds minus the
// keywords above).
var celReserved = map[string]bool{
	"as": true, "break": true, "const": true, "continue": true, "else": true, "for": true,
	"function": true, "if": true, "import": true, "let": true, "loop": true, "package": true,
	"namespace": true, "return": true, "var": true, "void": true, "while": true,
}

// dialectWords are the reference's logical operators.
var dialectWords = map[string]string{"AND": "&&", "OR": "||", "NOT": "!"}

var (
	celIdentPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// numberPattern matches what CEL would lex as one number literal.
	numberPattern = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?[uU]?|0[xX][0-9a-fA-F]+[uU]?)$`)
)

// declarable reports whether id can be a CEL variable of its own.
func declarable(id string) bool {
	return celIdentPattern.MatchString(id) && !celReserved[id] && !celKeywords[id] && dialectWords[id] == ""
}

// rewritable reports whether a path starting with id should become
// nodes["id"]: CEL cannot name it, and the text is not a literal or operator.
func rewritable(id string) bool {
	if id == "" || declarable(id) || celKeywords[id] || dialectWords[id] != "" || numberPattern.MatchString(id) {
		return false
	}
	return strings.ContainsAny(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
}

// rewriteIDs returns the ids to rewrite, longest first so that
// "tracer-validate-2" wins over "tracer-validate".
func rewriteIDs(nodeIDs []string) []string {
	var out []string
	for _, id := range nodeIDs {
		if rewritable(id) {
			out = append(out, id)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// translateDialect rewrites the reference dialect into CEL outside string
// literals and comments, for a workflow whose node ids are nodeIDs: the
// ids CEL cannot name become nodes["id"] (see rewriteIDs), and a word that
// is a node id is never read as the dialect's boolean (a node named True
// is the node).
func translateDialect(src string, nodeIDs []string) translation {
	t := translator{src: src, ids: rewriteIDs(nodeIDs), nodeIDs: nodeIDs}
	t.out.Grow(len(src) + 16)
	t.origAt = make([]int, 0, len(src)+17)
	for t.pos < len(src) {
		t.step()
	}
	t.origAt = append(t.origAt, len(src))
	return translation{src: src, cel: t.out.String(), origAt: t.origAt}
}

type translator struct {
	src     string
	ids     []string // to rewrite, longest first
	nodeIDs []string // all of them
	pos     int
	out     strings.Builder
	origAt  []int
}

// copyTo copies the original up to end unchanged.
func (t *translator) copyTo(end int) {
	for i := t.pos; i < end; i++ {
		t.origAt = append(t.origAt, i)
	}
	t.out.WriteString(t.src[t.pos:end])
	t.pos = end
}

// replace writes text in place of the original up to end; every byte of it
// maps back to the start of what it replaced.
func (t *translator) replace(text string, end int) {
	for range len(text) {
		t.origAt = append(t.origAt, t.pos)
	}
	t.out.WriteString(text)
	t.pos = end
}

// step consumes one token: a string, a comment, a rewritten id or word, or
// one plain byte.
func (t *translator) step() {
	src, i := t.src, t.pos
	if end, ok := stringLiteralEnd(src, i); ok {
		t.copyTo(end)
		return
	}
	if strings.HasPrefix(src[i:], "//") {
		end := strings.IndexByte(src[i:], '\n')
		if end < 0 {
			t.copyTo(len(src))
		} else {
			t.copyTo(i + end)
		}
		return
	}
	atWordStart := i == 0 || !isWordByte(src[i-1]) && src[i-1] != '.'
	if atWordStart && (i == 0 || src[i-1] != '-') {
		for _, id := range t.ids {
			end := i + len(id)
			if strings.HasPrefix(src[i:], id) && (end == len(src) || !isWordByte(src[end]) && src[end] != '-') {
				t.replace(`nodes["`+id+`"]`, end)
				return
			}
		}
	}
	if !isWordByte(src[i]) {
		t.copyTo(i + 1)
		return
	}
	end := i
	for end < len(src) && isWordByte(src[end]) {
		end++
	}
	if op := dialectWords[src[i:end]]; op != "" && atWordStart {
		t.replace(op, end)
		return
	}
	if lit := booleanWord(src[i:end]); lit != "" && atWordStart && (end == len(src) || src[end] != '.') &&
		!slices.Contains(t.nodeIDs, src[i:end]) {
		t.replace(lit, end)
		return
	}
	t.copyTo(end)
}

// booleanWord is CEL's literal for a boolean the reference's dialect
// spells in any case ("True", "FALSE"), else "" (also for CEL's own).
func booleanWord(w string) string {
	for _, lit := range []string{"true", "false"} {
		if w != lit && strings.EqualFold(w, lit) {
			return lit
		}
	}
	return ""
}

// stringLiteralEnd reports whether a CEL string or bytes literal starts at
// i (with optional r/b prefixes, single or triple quotes) and where it ends.
// An unterminated literal runs to the end; CEL reports it.
func stringLiteralEnd(src string, i int) (int, bool) {
	if i > 0 && isWordByte(src[i-1]) {
		return 0, false
	}
	j, raw := i, false
	for n := 0; n < 2 && j < len(src) && strings.IndexByte("rRbB", src[j]) >= 0; n++ {
		raw = raw || src[j] == 'r' || src[j] == 'R'
		j++
	}
	if j >= len(src) || src[j] != '"' && src[j] != '\'' {
		return 0, false
	}
	quote := src[j : j+1]
	if strings.HasPrefix(src[j:], strings.Repeat(quote, 3)) {
		quote = strings.Repeat(quote, 3)
	}
	for k := j + len(quote); k < len(src); k++ {
		if !raw && src[k] == '\\' {
			k++
			continue
		}
		if strings.HasPrefix(src[k:], quote) {
			return k + len(quote), true
		}
		if len(quote) == 1 && src[k] == '\n' {
			return k, true
		}
	}
	return len(src), true
}

// originalPosition maps a CEL location (1-based line, 0-based column in
// code points of the CEL text) to a 1-based line and column in code points
// of the original text.
func (t translation) originalPosition(line, column int) (int, int) {
	if line < 1 {
		return 1, 1
	}
	off := 0
	for l := 1; l < line; l++ {
		nl := strings.IndexByte(t.cel[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	for c := 0; c < column && off < len(t.cel) && t.cel[off] != '\n'; c++ {
		_, size := utf8.DecodeRuneInString(t.cel[off:])
		off += size
	}
	return lineColumn(t.src, t.origAt[min(off, len(t.origAt)-1)])
}

// lineColumn turns a byte offset into a 1-based line and column counted in
// code points.
func lineColumn(src string, off int) (int, int) {
	line, start := 1, 0
	for i := 0; i < off && i < len(src); i++ {
		if src[i] == '\n' {
			line, start = line+1, i+1
		}
	}
	return line, utf8.RuneCountInString(src[start:min(off, len(src))]) + 1
}
