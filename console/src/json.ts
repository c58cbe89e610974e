// Lossless JSON: a reader and pretty-printer that keep every number as
// the text it was written in. JSON.parse turns numbers into float64s, so
// 9007199254740993 becomes 9007199254740992 and -0 prints as 0; text shown
// for editing and sent back must not change what the server stored.

type J = { o: [string, J][] } | { a: J[] } | { r: string };

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;
const SPACE = /[ \t\n\r]*/y;

class Reader {
  i = 0;
  constructor(readonly s: string) {}
  ws() {
    SPACE.lastIndex = this.i;
    SPACE.exec(this.s);
    this.i = SPACE.lastIndex;
  }
  fail(): never {
    throw new SyntaxError(`unexpected input at ${this.i}`);
  }
  token(re: RegExp): string | undefined {
    re.lastIndex = this.i;
    const m = re.exec(this.s);
    if (!m) return undefined;
    this.i = re.lastIndex;
    return m[0];
  }
  // str reads a string literal and returns its value.
  str(): string {
    if (this.s[this.i] !== '"') this.fail();
    let j = this.i + 1;
    while (j < this.s.length && this.s[j] !== '"') j += this.s[j] === "\\" ? 2 : 1;
    if (j >= this.s.length) this.fail();
    const v = JSON.parse(this.s.slice(this.i, j + 1)) as string;
    this.i = j + 1;
    return v;
  }
  value(): J {
    this.ws();
    const c = this.s[this.i];
    if (c === "{") {
      this.i++;
      const o: [string, J][] = [];
      this.ws();
      if (this.s[this.i] === "}") {
        this.i++;
        return { o };
      }
      for (;;) {
        this.ws();
        const k = this.str();
        this.ws();
        if (this.s[this.i++] !== ":") this.fail();
        o.push([k, this.value()]);
        this.ws();
        const d = this.s[this.i++];
        if (d === "}") return { o };
        if (d !== ",") this.fail();
      }
    }
    if (c === "[") {
      this.i++;
      const a: J[] = [];
      this.ws();
      if (this.s[this.i] === "]") {
        this.i++;
        return { a };
      }
      for (;;) {
        a.push(this.value());
        this.ws();
        const d = this.s[this.i++];
        if (d === "]") return { a };
        if (d !== ",") this.fail();
      }
    }
    if (c === '"') return { r: JSON.stringify(this.str()) };
    const t = this.token(NUMBER) ?? this.token(LITERAL);
    if (t === undefined) this.fail();
    return { r: t };
  }
}

function parse(text: string): J {
  const r = new Reader(text);
  const v = r.value();
  r.ws();
  if (r.i !== text.length) r.fail();
  return v;
}

// print lays a value out as JSON.stringify(v, null, 2) does.
function print(v: J, indent: string): string {
  if ("r" in v) return v.r;
  const inner = indent + "  ";
  if ("a" in v) return v.a.length === 0 ? "[]" : "[\n" + v.a.map((x) => inner + print(x, inner)).join(",\n") + "\n" + indent + "]";
  return v.o.length === 0 ? "{}" : "{\n" + v.o.map(([k, x]) => inner + JSON.stringify(k) + ": " + print(x, inner)).join(",\n") + "\n" + indent + "}";
}

// prettyFields lays out the named fields of the JSON object in text, in
// the order given, numbers exactly as written there; a field absent from
// text takes its default (itself JSON text), or is left out without one.
// undefined when text is not a JSON object.
export function prettyFields(text: string, fields: [string, string | undefined][]): string | undefined {
  let v: J;
  try {
    v = parse(text);
  } catch {
    return undefined;
  }
  if (!("o" in v)) return undefined;
  const out: [string, J][] = [];
  for (const [k, def] of fields) {
    const found = v.o.filter(([n]) => n === k).pop(); // the last one wins, as in JSON.parse
    if (found) out.push([k, found[1]]);
    else if (def !== undefined) out.push([k, { r: def }]);
  }
  return print({ o: out }, "");
}
