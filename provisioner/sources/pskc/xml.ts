/**
 * A strict, bounded XML 1.0 subset parser for PSKC files (RFC 6030), with namespace resolution.
 *
 * Safety first (the inputs are vendor files from outside):
 * - any `<!DOCTYPE` or `<!ENTITY` (or any other `<!` markup except comments and CDATA) is refused BEFORE
 *   parsing, so external entities (XXE) and entity-expansion bombs never get a chance;
 * - only the five predefined entities and numeric character references are expanded (no user entities exist);
 * - the input length, the number of elements and the nesting depth are capped;
 * - no recursion (an explicit stack), so a deep document cannot blow the JS stack.
 *
 * Namespaces (Namespaces in XML 1.0): each element gets its namespace URI and local name, so callers match on
 * local names whatever prefix a vendor chose, and can still see the namespace when it matters (the doctor
 * reports PBKDF2-params in an unexpected namespace). Unbound prefixes are errors.
 */
import { ProvisionerError } from '../../seed.ts';

export interface XmlElement {
  /** Qualified name as written (`pskc:Key`). */
  readonly name: string;
  /** Local part (`Key`). */
  readonly local: string;
  /** Namespace URI, '' when none. */
  readonly ns: string;
  /** Attributes by qualified name as written (namespace declarations excluded). */
  readonly attrs: ReadonlyMap<string, string>;
  readonly children: XmlElement[];
  /** Concatenated character data directly inside this element (entity-decoded, CDATA included). */
  text: string;
  /** 1-based line of the start tag, for error messages. */
  readonly line: number;
}

export interface XmlLimits {
  /** Maximum input length in UTF-16 code units (default 64 MiB). */
  maxBytes?: number;
  /** Maximum number of elements (default 1,000,000). */
  maxElements?: number;
  /** Maximum nesting depth (default 64). */
  maxDepth?: number;
}

export const DEFAULT_XML_LIMITS = { maxBytes: 64 * 1024 * 1024, maxElements: 1_000_000, maxDepth: 64 } as const;

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const NAME_RE = /^[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?$/;

function fail(message: string): never {
  throw new ProvisionerError('INVALID_PSKC', message);
}

/**
 * Refuses DOCTYPE/ENTITY declarations and other `<!` markup (the XXE and billion-laughs defence). Exported so
 * the doctor can explain the refusal in its own words.
 */
export function checkNoDeclarations(xml: string): void {
  let i = xml.indexOf('<!');
  while (i !== -1) {
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end === -1) fail(`XML: unterminated comment at line ${lineAt(xml, i)}`);
      i = xml.indexOf('<!', end + 3);
    } else if (xml.startsWith('<![CDATA[', i)) {
      const end = xml.indexOf(']]>', i + 9);
      if (end === -1) fail(`XML: unterminated CDATA section at line ${lineAt(xml, i)}`);
      i = xml.indexOf('<!', end + 3);
    } else {
      const what = /^<!\s*([A-Za-z]*)/.exec(xml.slice(i, i + 20))?.[1]?.toUpperCase() || 'markup';
      throw new ProvisionerError(
        'INVALID_UNSAFE_XML',
        `XML: refusing a <!${what}> declaration at line ${lineAt(xml, i)}: PSKC files need no DTD, and DTDs allow external-entity (XXE) and entity-expansion attacks; remove the DOCTYPE/ENTITY lines`,
      );
    }
  }
}

function lineAt(s: string, pos: number): number {
  let n = 1;
  for (let i = s.indexOf('\n'); i !== -1 && i < pos; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

function decodeEntities(s: string, line: number): string {
  if (s.indexOf('&') === -1) return s;
  return s.replace(/&([^;&\s]{0,12});|&/g, (m, ref: string | undefined) => {
    if (ref === undefined) fail(`XML: bare '&' at line ${line}; write &amp;`);
    switch (ref) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
    }
    let cp = NaN;
    if (/^#[0-9]{1,7}$/.test(ref)) cp = parseInt(ref.slice(1), 10);
    else if (/^#x[0-9a-fA-F]{1,6}$/.test(ref)) cp = parseInt(ref.slice(2), 16);
    else fail(`XML: undefined entity ${m} at line ${line}; only the five predefined entities are allowed`);
    if (!(cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0x10ffff) && !(cp >= 0xfffe && cp <= 0xffff))) {
      fail(`XML: character reference ${m} at line ${line} is not a legal XML character`);
    }
    return String.fromCodePoint(cp);
  });
}

interface Frame {
  el: XmlElement;
  ns: Map<string, string>;
}

/** Parses `xml` into its root element. Throws ProvisionerError (INVALID_PSKC / INVALID_UNSAFE_XML / INVALID_TOO_LARGE). */
export function parseXml(xml: string, limits: XmlLimits = {}): XmlElement {
  const maxBytes = limits.maxBytes ?? DEFAULT_XML_LIMITS.maxBytes;
  const maxElements = limits.maxElements ?? DEFAULT_XML_LIMITS.maxElements;
  const maxDepth = limits.maxDepth ?? DEFAULT_XML_LIMITS.maxDepth;
  if (typeof xml !== 'string') throw new TypeError('xml: must be a string');
  if (xml.length > maxBytes) {
    throw new ProvisionerError('INVALID_TOO_LARGE', `XML: input is ${xml.length} characters, over the limit of ${maxBytes}; raise the limit if the file is genuine`);
  }
  checkNoDeclarations(xml);
  let pos = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  // Next newline at or after `pos` (-1: none left). Cached so that a file without newlines stays linear.
  let nextNl = xml.indexOf('\n', pos);
  const advanceTo = (to: number): void => {
    while (nextNl !== -1 && nextNl < to) {
      line++;
      nextNl = xml.indexOf('\n', nextNl + 1);
    }
    pos = to;
  };
  // XML declaration (optional, only at the very start).
  if (xml.startsWith('<?xml', pos) && /\s/.test(xml[pos + 5] ?? '')) {
    const end = xml.indexOf('?>', pos);
    if (end === -1) fail('XML: unterminated XML declaration');
    const decl = xml.slice(pos, end);
    const enc = /encoding\s*=\s*["']([^"']*)["']/.exec(decl)?.[1];
    if (enc !== undefined && !/^(utf-?8|us-ascii|ascii)$/i.test(enc)) fail(`XML: encoding "${enc}" is not supported; convert the file to UTF-8`);
    advanceTo(end + 2);
  }
  const stack: Frame[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  const rootNs = new Map<string, string>([['xml', XML_NS]]);

  while (pos < xml.length) {
    const lt = xml.indexOf('<', pos);
    const textEnd = lt === -1 ? xml.length : lt;
    if (textEnd > pos) {
      const raw = xml.slice(pos, textEnd);
      const top = stack[stack.length - 1];
      if (top) top.el.text += decodeEntities(raw, line);
      else if (raw.trim() !== '') fail(`XML: text outside the root element at line ${line}`);
      else if (raw.includes('&')) fail(`XML: entity outside the root element at line ${line}`);
      advanceTo(textEnd);
      if (lt === -1) break;
    }
    if (xml.startsWith('<!--', pos)) {
      const end = xml.indexOf('-->', pos + 4);
      if (end === -1) fail(`XML: unterminated comment at line ${line}`);
      advanceTo(end + 3);
      continue;
    }
    if (xml.startsWith('<![CDATA[', pos)) {
      const end = xml.indexOf(']]>', pos + 9);
      if (end === -1) fail(`XML: unterminated CDATA at line ${line}`);
      const top = stack[stack.length - 1];
      if (!top) fail(`XML: CDATA outside the root element at line ${line}`);
      top.el.text += xml.slice(pos + 9, end);
      advanceTo(end + 3);
      continue;
    }
    if (xml.startsWith('<?', pos)) {
      // Processing instructions (e.g. xml-stylesheet) carry nothing for us; a second <?xml ...?> is an error.
      const end = xml.indexOf('?>', pos + 2);
      if (end === -1) fail(`XML: unterminated processing instruction at line ${line}`);
      if (/^<\?xml(\s|\?)/i.test(xml.slice(pos, pos + 6))) fail(`XML: misplaced XML declaration at line ${line}`);
      advanceTo(end + 2);
      continue;
    }
    if (xml.startsWith('</', pos)) {
      const end = xml.indexOf('>', pos);
      if (end === -1) fail(`XML: unterminated end tag at line ${line}`);
      const name = xml.slice(pos + 2, end).trim();
      const top = stack.pop();
      if (!top) fail(`XML: end tag </${name}> without a start tag at line ${line}`);
      if (top.el.name !== name) fail(`XML: end tag </${name}> at line ${line} does not match <${top.el.name}> from line ${top.el.line}`);
      advanceTo(end + 1);
      continue;
    }
    // Start tag: scan to the closing '>' outside quoted attribute values.
    let i = pos + 1;
    let quote = 0;
    for (; i < xml.length; i++) {
      const c = xml.charCodeAt(i);
      if (quote) {
        if (c === quote) quote = 0;
      } else if (c === 0x22 || c === 0x27) quote = c;
      else if (c === 0x3e) break;
      else if (c === 0x3c) fail(`XML: '<' inside a tag at line ${line}`);
    }
    if (i >= xml.length) fail(`XML: unterminated start tag at line ${line} (truncated file?)`);
    const selfClosing = xml.charCodeAt(i - 1) === 0x2f;
    const body = xml.slice(pos + 1, selfClosing ? i - 1 : i);
    const startLine = line;
    const el = parseStartTag(body, startLine, stack[stack.length - 1]?.ns ?? rootNs);
    if (++count > maxElements) {
      throw new ProvisionerError('INVALID_TOO_LARGE', `XML: more than ${maxElements} elements; raise the limit if the file is genuine`);
    }
    const parent = stack[stack.length - 1];
    if (parent) parent.el.children.push(el.el);
    else if (root) fail(`XML: a second root element <${el.el.name}> at line ${startLine}`);
    else root = el.el;
    if (!selfClosing) {
      if (stack.length >= maxDepth) throw new ProvisionerError('INVALID_TOO_LARGE', `XML: nesting deeper than ${maxDepth} levels at line ${startLine}`);
      stack.push(el);
    }
    advanceTo(i + 1);
  }
  if (stack.length > 0) fail(`XML: <${stack[stack.length - 1]!.el.name}> from line ${stack[stack.length - 1]!.el.line} is never closed (truncated file?)`);
  if (!root) fail('XML: no root element (empty file?)');
  return root;
}

function parseStartTag(body: string, line: number, parentNs: Map<string, string>): Frame {
  const m = /^([^\s/>]+)/.exec(body);
  const name = m?.[1] ?? '';
  if (!NAME_RE.test(name)) fail(`XML: bad element name "${name.slice(0, 40)}" at line ${line}`);
  const raw = new Map<string, string>();
  const attrRe = /\s+([^\s=]+)\s*=\s*("([^"]*)"|'([^']*)')/gy;
  let p = name.length;
  attrRe.lastIndex = p;
  for (;;) {
    const a = attrRe.exec(body);
    if (!a) break;
    const an = a[1]!;
    if (!NAME_RE.test(an) && !/^xmlns(:[A-Za-z_][\w.\-]*)?$/.test(an)) fail(`XML: bad attribute name "${an.slice(0, 40)}" at line ${line}`);
    if (raw.has(an)) fail(`XML: duplicate attribute ${an} on <${name}> at line ${line}`);
    const v = a[3] ?? a[4] ?? '';
    if (v.includes('<')) fail(`XML: '<' in the value of attribute ${an} at line ${line}`);
    raw.set(an, decodeEntities(v, line));
    p = attrRe.lastIndex;
  }
  if (body.slice(p).trim() !== '') fail(`XML: malformed attributes in <${name}> at line ${line}`);
  let ns = parentNs;
  const attrs = new Map<string, string>();
  for (const [k, v] of raw) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) {
      if (ns === parentNs) ns = new Map(parentNs);
      ns.set(k === 'xmlns' ? '' : k.slice(6), v);
    } else attrs.set(k, v);
  }
  const colon = name.indexOf(':');
  const prefix = colon === -1 ? '' : name.slice(0, colon);
  const local = colon === -1 ? name : name.slice(colon + 1);
  const uri = ns.get(prefix);
  if (prefix !== '' && uri === undefined) fail(`XML: namespace prefix "${prefix}" of <${name}> at line ${line} is not declared`);
  for (const k of attrs.keys()) {
    const c = k.indexOf(':');
    if (c !== -1 && !ns.has(k.slice(0, c))) fail(`XML: namespace prefix of attribute ${k} at line ${line} is not declared`);
  }
  return { el: { name, local, ns: uri ?? '', attrs, children: [], text: '', line }, ns };
}

// ---- navigation helpers (match on local names, whatever the prefix) ----

export function child(el: XmlElement | undefined, local: string): XmlElement | undefined {
  if (!el) return undefined;
  for (const c of el.children) if (c.local === local) return c;
  return undefined;
}

export function childrenNamed(el: XmlElement | undefined, local: string): XmlElement[] {
  return el ? el.children.filter((c) => c.local === local) : [];
}

/** Follows a path of local names (`'CipherData/CipherValue'`). */
export function path(el: XmlElement | undefined, p: string): XmlElement | undefined {
  let cur = el;
  for (const part of p.split('/')) cur = child(cur, part);
  return cur;
}

/** Trimmed text of the element at `p`, or undefined. */
export function textAt(el: XmlElement | undefined, p: string): string | undefined {
  const e = path(el, p);
  return e ? e.text.trim() : undefined;
}

/** Attribute by local name (ignoring any prefix), also trying a lower-case spelling. */
export function attr(el: XmlElement | undefined, local: string): string | undefined {
  if (!el) return undefined;
  const direct = el.attrs.get(local);
  if (direct !== undefined) return direct;
  for (const [k, v] of el.attrs) {
    const l = k.slice(k.indexOf(':') + 1);
    if (l === local || l.toLowerCase() === local.toLowerCase()) return v;
  }
  return undefined;
}
