// Parses gdb/MI output records (`^done,threads=[...]`, `~"text"`) into plain JavaScript values.
export type MiValue = string | MiValue[] | { [name: string]: MiValue };

export interface MiRecord {
  token: string;
  /** '^' result, '*' '+' '=' async, '~' console, '@' target, '&' log. */
  kind: string;
  /** The result class (done, error, connected...) or the async class; empty for stream records. */
  cls: string;
  /** The result's fields, or { text } for a stream record. */
  fields: Record<string, MiValue>;
}

class Parser {
  i = 0;
  constructor(private s: string) {}

  cString(): string {
    // gdb escapes like C; non-ASCII bytes come as octal escapes of the UTF-8 bytes.
    this.i++; // opening quote
    const bytes: number[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '"') {
      let c = this.s[this.i++];
      if (c === '\\') {
        c = this.s[this.i++];
        const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, e: 27, '"': 34, '\\': 92, "'": 39 };
        if (c in simple) bytes.push(simple[c]);
        else if (/[0-7]/.test(c)) {
          let oct = c;
          while (oct.length < 3 && /[0-7]/.test(this.s[this.i] ?? '')) oct += this.s[this.i++];
          bytes.push(parseInt(oct, 8) & 0xff);
        } else bytes.push(...Buffer.from(c));
      } else bytes.push(...Buffer.from(c));
    }
    this.i++; // closing quote
    return Buffer.from(bytes).toString('utf8');
  }

  value(): MiValue {
    const c = this.s[this.i];
    if (c === '"') return this.cString();
    if (c === '{') return this.tuple();
    if (c === '[') return this.list();
    throw new Error(`unexpected MI input at ${this.i}: ${this.s.slice(this.i, this.i + 20)}`);
  }

  name(): string {
    const start = this.i;
    while (this.i < this.s.length && this.s[this.i] !== '=') this.i++;
    const n = this.s.slice(start, this.i);
    this.i++; // '='
    return n;
  }

  results(close: string): Record<string, MiValue> {
    const out: Record<string, MiValue> = {};
    while (this.i < this.s.length && this.s[this.i] !== close) {
      const n = this.name();
      out[n] = this.value();
      if (this.s[this.i] === ',') this.i++;
    }
    return out;
  }

  tuple(): Record<string, MiValue> {
    this.i++;
    const out = this.results('}');
    this.i++;
    return out;
  }

  list(): MiValue[] {
    this.i++;
    const out: MiValue[] = [];
    while (this.i < this.s.length && this.s[this.i] !== ']') {
      // A list holds either values or name=value results (frame={...},frame={...}): keep the values.
      if (/["{[]/.test(this.s[this.i])) out.push(this.value());
      else {
        this.name();
        out.push(this.value());
      }
      if (this.s[this.i] === ',') this.i++;
    }
    this.i++;
    return out;
  }
}

/** One line of gdb/MI output as a record, or null for the prompt and anything that is not MI. */
export function parseMiLine(line: string): MiRecord | null {
  const m = /^(\d*)([\^*+=~@&])/.exec(line);
  if (!m) return null;
  const p = new Parser(line);
  p.i = m[0].length;
  if ('~@&'.includes(m[2])) return { token: m[1], kind: m[2], cls: '', fields: { text: p.cString() } };
  const comma = line.indexOf(',', p.i);
  const end = comma < 0 ? line.length : comma;
  const cls = line.slice(p.i, end);
  p.i = end + 1;
  return { token: m[1], kind: m[2], cls, fields: comma < 0 ? {} : p.results('\n') };
}
