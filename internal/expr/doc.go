// Package expr compiles and evaluates the two small languages a workflow
// carries: conditions (CEL, plus the reference's AND/OR dialect) and JSON
// mappings/transforms (a Kazaam-like pipeline of operations). It is pure: no
// I/O and no goroutines. Everything compiled (*Condition, *Transform) is
// immutable and safe to share between goroutines.
//
// # Conditions
//
// A condition is CEL (cel.dev/cel-go) evaluated against the execution
// context: workflow, output, nodes (map nodeID → output) and every node id
// that is a valid CEL identifier, all dyn. Compared with the reference's
// hand-written evaluator (flowker-engine.md §3):
//   - The reference dialect still compiles: AND / OR / NOT (whole words,
//     outside strings and comments) become && / || / !, single-quoted strings
//     are CEL already, and a path that starts with a node id CEL cannot name
//     (hyphens, a leading digit, a CEL keyword) becomes nodes["id"]….
//     Hyphenated keys below the id need index syntax: x.body["risk-level"].
//     Ids that read as CEL literals or operators (true, false, null, in,
//     AND, OR, NOT, all-digit ids such as 123 or 1e5) are reachable only as
//     nodes["id"]; ids must be separated from a neighbouring "-" by a space.
//     The reference's booleans in other cases (True, FALSE) become true and
//     false, except a word that is one of the workflow's node ids: a node
//     named True is the node.
//   - Conditions are type-checked when compiled, so an undeclared name or a
//     syntax error is reported with a line and column of the original text
//     [the reference never validated them].
//   - Strings and numbers are not coerced: "100" == 100 is false and
//     "100" > 50 has no overload [the reference compared them numerically].
//     JSON numbers are doubles, so arithmetic wants double literals
//     (workflow.amount * 2.0) or explicit int(…); comparisons mix freely.
//   - Missing keys are errors as in the reference, but has(a.b) tests
//     existence, and && / || short-circuit errors away in both orders.
//   - AND/OR inside string literals are left alone [the reference split on
//     them]. Parentheses, in, arithmetic and string functions (CEL's and the
//     strings extension) are available.
//   - Checking costs about the fourth power of how deeply values nest, so
//     a condition nests lists and maps at most 32 deep, counting the levels
//     macros add ([1].map(x, {1: x}).map(…) nests without brackets), macros
//     at most 8 deep, and its nested values are weighed in all (nesting.go).
//   - Evaluation has a cost budget so a large comprehension cannot stall a
//     worker. A non-bool result is converted with the reference's
//     truthiness: null, "", "false" (any case) and 0 are false.
//
// # Mappings and transforms
//
// Field mappings compile to one shift (the output holds only the mapped
// targets) followed by one operation per transformation, in list order.
// "required" applies to its own field only [the reference required every
// source of the list as soon as one field was required]; a missing
// non-required source yields null. Operation specs are checked when compiled
// (unknown operation, bad paths, missing keys), not when first applied.
// Unknown spec keys are ignored, because a mapping's transformation always
// carries path = target even for operations that do not use it.
//
// Paths: a.b.c, a[0], a[*].id (wildcard), $ (whole document, read only).
// Keys may contain any character except . [ and ]. Reads never fail on a
// missing key; writes create missing objects (and arrays for a[n]) and fail
// when an intermediate value is neither absent, null nor the right
// container. A wildcard in a write path applies to every element present;
// an index after one is refused where the write may create it (rows[*].a[9]
// would pad an array in every row, past the write budget), and allowed in
// delete and the string operations, which only change what exists.
//
// Apply walks Go values directly (map[string]any, []any, string, float64,
// bool, nil) and copies on write: the input is never mutated, and the result
// shares unchanged subtrees with it, so callers must treat both as
// read-only (copy before mutating).
//
// Operation notes where Kazaam's behaviour is unclear or unhelpful:
//   - shift: spec targets are applied in sorted order so that "a" is written
//     before "a.b"; a list of sources builds an array.
//   - concat: a missing (non-required) or null source contributes "", arrays
//     contribute their non-null elements concatenated, objects their JSON.
//   - coalesce: the first present, non-null, non-ignored value wins; require
//     makes "none found" an error (Kazaam rejected require).
//   - merge: {target: [paths of objects]} shallow-merges the objects, in
//     order, over the existing target object (Kazaam's merge zipped arrays).
//   - timestamp: $now is UTC; $unix output is a decimal string, as in Kazaam.
//   - uuid v3/v5: the name chain is Kazaam's (each name hashed into the
//     previous UUID); a missing or null name uses its default.
//   - steps: {"steps": [{operation, spec, require}…]} is a nested pipeline;
//     an item without "operation" is a shift spec, as in Kazaam.
//   - In a mapping's transformation, the operations keyed by path (shift,
//     coalesce, default, merge, timestamp, uuid) take config as their whole
//     spec, since {path: target} would be read as a target named "path";
//     timestamp and uuid configs of one entry's shape ({inputFormat,
//     outputFormat} / {version, …}) apply to the mapping's target.
package expr
