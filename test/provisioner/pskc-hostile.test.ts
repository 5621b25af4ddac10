/**
 * Malformed and hostile PSKC input: XML external entities, entity-expansion bombs, huge files, element and
 * depth bombs, wrong MACs, tampered ciphertext, wrong keys and passwords, truncated base64, truncated files,
 * missing elements, XML syntax errors. Each gives a ProvisionerError with the right code (nothing is
 * returned, so nothing can reach a token), and no message carries secret material.
 */
import { closeSync, openSync, readFileSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProvisionerError, type ProvisionerErrorCode } from '../../provisioner/seed.ts';
import { loadSeeds } from '../../provisioner/sources/index.ts';
import { pskcToSeeds, type PskcKeys } from '../../provisioner/sources/pskc/parse.ts';
import { parseXml } from '../../provisioner/sources/pskc/xml.ts';
import { tempDir, tokenforge, VECTORS } from './pskc.helpers.ts';

const tmp = tempDir('tf-pskc-hostile-');
afterAll(() => tmp.cleanup());
const FIG2 = readFileSync(join(VECTORS, 'rfc6030-figure2-basic-plain.xml'), 'utf8');
const FIG6 = readFileSync(join(VECTORS, 'rfc6030-figure6-aes128cbc-preshared-hmacsha1.xml'), 'utf8');
const FIG7 = readFileSync(join(VECTORS, 'rfc6030-figure7-pbkdf2.xml'), 'utf8');
const PSK = '12345678901234567890123456789012';
const SECRET_MARKERS = ['3132333435363738393031323334353637383930', 'MTIzNDU2Nzg5MDEyMzQ1Njc4OTA', '12345678901234567890'];

function codeOf(xml: string, keys: PskcKeys = {}, limits?: { maxBytes?: number; maxElements?: number; maxDepth?: number }): ProvisionerErrorCode | 'OK' {
  try {
    pskcToSeeds(xml, keys, limits ? { limits } : {});
    return 'OK';
  } catch (e) {
    if (!(e instanceof ProvisionerError)) throw e;
    for (const m of SECRET_MARKERS) expect(e.message).not.toContain(m);
    return e.code;
  }
}
function messageOf(xml: string, keys: PskcKeys = {}): string {
  try {
    pskcToSeeds(xml, keys);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

describe('XML attacks are refused before parsing', () => {
  const XXE = `<?xml version="1.0"?>\n<!DOCTYPE KeyContainer [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0"><KeyPackage><Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp"><Issuer>&xxe;</Issuer></Key></KeyPackage></KeyContainer>`;
  const LAUGHS = `<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('\n')}\n]>\n<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc">&lol9;</KeyContainer>`;
  it.each([
    ['external entity (XXE)', XXE],
    ['billion laughs', LAUGHS],
    ['lower-case doctype after a comment', `<!-- vendor -->\n<!doctype x SYSTEM "http://127.0.0.1:1/x.dtd">\n<KeyContainer/>`],
    ['parameter entity', `<!ENTITY % p SYSTEM "file:///etc/passwd"><KeyContainer/>`],
    ['DOCTYPE inside the root', FIG2.replace('<KeyPackage>', '<!DOCTYPE x><KeyPackage>')],
  ])('%s', (_name, xml) => {
    expect(codeOf(xml)).toBe('INVALID_UNSAFE_XML');
    expect(messageOf(xml)).toMatch(/refusing a <!(DOCTYPE|ENTITY)> declaration at line \d+/);
  });
  it('an entity reference without any declaration is an error, not an expansion', () => {
    expect(codeOf(FIG2.replace('<Issuer>Issuer-A</Issuer>', '<Issuer>&xxe;</Issuer>'))).toBe('INVALID_PSKC');
    expect(messageOf(FIG2.replace('<Issuer>Issuer-A</Issuer>', '<Issuer>&xxe;</Issuer>'))).toMatch(/undefined entity &xxe;/);
  });
  it('the five predefined entities and character references are decoded', () => {
    const root = parseXml('<a x="&lt;&amp;&#x41;&#66;">&quot;&apos;&gt;<![CDATA[<raw>&amp;]]></a>');
    expect(root.attrs.get('x')).toBe('<&AB');
    expect(root.text).toBe(`"'><raw>&amp;`);
  });
});

describe('size, element-count and depth limits', () => {
  it('a file over the size limit is refused from fstat, before it is read', async () => {
    const file = join(tmp.dir, 'huge.pskc');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 65 * 1024 * 1024); // sparse: 65 MiB on paper, nothing on disk
    closeSync(fd);
    await expect(loadSeeds({ kind: 'pskc', file })).rejects.toMatchObject({ code: 'INVALID_TOO_LARGE', message: expect.stringMatching(/over the limit of 67108864 bytes/) });
    await expect(loadSeeds({ kind: 'pskc', file: join(VECTORS, 'rfc6030-figure2-basic-plain.xml'), maxBytes: 100 })).rejects.toMatchObject({ code: 'INVALID_TOO_LARGE' });
  });
  it('the limit is also enforced on text given directly', () => {
    expect(codeOf(FIG2, {}, { maxBytes: 100 })).toBe('INVALID_TOO_LARGE');
  });
  it('element-count bomb', () => {
    const many = FIG2.replace('<Issuer>Issuer-A</Issuer>', `<Issuer>Issuer-A</Issuer>${'<Extension/>'.repeat(5000)}`);
    expect(codeOf(many, {}, { maxElements: 1000 })).toBe('INVALID_TOO_LARGE');
  });
  it('a file without newlines is parsed in one linear pass (line tracking cannot go quadratic)', () => {
    const oneLine = `<KeyContainer>${'<a x="1">t</a>'.repeat(100_000)}</KeyContainer>`;
    expect(parseXml(oneLine).children).toHaveLength(100_000);
  });
  it('depth bomb (no recursion, so no stack overflow either)', () => {
    const deep = `<KeyContainer>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</KeyContainer>`;
    expect(codeOf(deep)).toBe('INVALID_TOO_LARGE');
  });
});

describe('MACs, keys and passwords', () => {
  it('a wrong ValueMAC is an error, never skipped', () => {
    const xml = FIG6.replace('Su+NvtQfmvfJzF6bmQiJqoLRExc=', 'Su+NvtQfmvfJzF6bmQiJqoLRExY=');
    expect(codeOf(xml, { psk: PSK })).toBe('INVALID_MAC');
    expect(messageOf(xml, { psk: PSK })).toMatch(/ValueMAC does not match/);
    // A change only in the unused padding bits is caught as non-canonical base64, not silently equal.
    expect(messageOf(FIG6.replace('Su+NvtQfmvfJzF6bmQiJqoLRExc=', 'Su+NvtQfmvfJzF6bmQiJqoLRExd='), { psk: PSK })).toMatch(/non-canonical base64/);
  });
  it('tampered ciphertext with the original MAC is refused', () => {
    const xml = FIG6.replace('AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv', 'AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGw');
    expect(codeOf(xml, { psk: PSK })).toBe('INVALID_MAC');
  });
  it('a CBC value without ValueMAC is refused unless explicitly allowed', () => {
    const xml = FIG6.replace(/<ValueMAC>[^<]*<\/ValueMAC>/, '');
    expect(codeOf(xml, { psk: PSK })).toBe('INVALID_MAC');
    expect(messageOf(xml, { psk: PSK })).toMatch(/no ValueMAC/);
    expect(codeOf(xml, { psk: PSK, allowMissingMac: true })).toBe('OK');
  });
  it('a ValueMAC with no MACMethod to check it against is refused', () => {
    expect(codeOf(FIG6.replace(/<MACMethod[\s\S]*<\/MACMethod>/, ''), { psk: PSK })).toBe('INVALID_PSKC');
  });
  it('a wrong pre-shared key', () => {
    expect(codeOf(FIG6, { psk: '12345678901234567890123456789013' })).toMatch(/^INVALID_(DECRYPTION|MAC)$/);
    expect(codeOf(FIG6, { psk: '1234' })).toBe('INVALID_DECRYPTION');
    expect(codeOf(FIG6, { psk: 'not hex' })).toBe('INVALID_ARGUMENT');
  });
  it('no key at all, or a password for a PSK file', () => {
    expect(codeOf(FIG6)).toBe('INVALID_NEEDS_KEY');
    expect(messageOf(FIG6)).toMatch(/--psk/);
    expect(messageOf(FIG6, { password: 'x' })).toMatch(/not a password/);
    expect(codeOf(FIG7)).toBe('INVALID_NEEDS_KEY');
    expect(messageOf(FIG7)).toMatch(/--password/);
  });
  it('a wrong password', () => {
    expect(codeOf(FIG7, { password: 'qwertz' })).toMatch(/^INVALID_(DECRYPTION|MAC)$/);
  });
  it('an absurd PBKDF2 iteration count is refused rather than run', () => {
    expect(codeOf(FIG7.replace('<IterationCount>1000</IterationCount>', '<IterationCount>999999999</IterationCount>'), { password: 'qwerty' })).toBe('INVALID_PSKC');
  });
});

describe('truncated and missing data', () => {
  it.each([
    ['truncated base64 (CipherValue)', FIG6.replace('AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv', 'AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUq'), 'INVALID_PSKC', /truncated/],
    ['truncated base64 (PlainValue)', FIG2.replace('MTIzNA==', 'MTIzNA='), 'INVALID_PSKC', /truncated/],
    ['bad base64 character', FIG2.replace('MTIzNA==', 'MTIz*A=='), 'INVALID_PSKC', /not valid base64/],
    ['CBC value cut to whole blocks', FIG6.replace('AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv', 'AAECAwQFBgcICQoLDA0ODw=='), 'INVALID_MAC', /ValueMAC/],
    ['truncated file', FIG6.slice(0, Math.floor(FIG6.length / 2)), 'INVALID_PSKC', /truncated|never closed|unterminated/],
    ['empty file', '', 'INVALID_PSKC', /no root element/],
    ['no CipherValue', FIG6.replace(/<xenc:CipherData>\s*<xenc:CipherValue>\s*AAEC[\s\S]*?<\/xenc:CipherData>/, ''), 'INVALID_PSKC', /CipherValue> is missing/],
    ['no EncryptionMethod Algorithm', FIG6.replace(/<xenc:EncryptionMethod\s+Algorithm="http:\/\/www.w3.org\/2001\/04\/xmlenc#aes128-cbc"\/>\s*<xenc:CipherData>\s*<xenc:CipherValue>\s*AAEC/, '<xenc:EncryptionMethod/><xenc:CipherData><xenc:CipherValue>AAEC'), 'INVALID_PSKC', /EncryptionMethod Algorithm/],
    ['Secret with neither value', FIG2.replace(/<PlainValue>[\s\S]*?<\/PlainValue>/, ''), 'INVALID_PSKC', /neither PlainValue nor EncryptedValue/],
    ['PBKDF2 without Salt', FIG7.replace(/<Salt>[\s\S]*?<\/Salt>/, ''), 'INVALID_PSKC', /Salt/],
    ['not a KeyContainer', '<?xml version="1.0"?><html><body/></html>', 'INVALID_PSKC', /expected <KeyContainer>/],
    ['unknown encryption algorithm', FIG6.replace(/xmlenc#aes128-cbc/g, 'xmlenc#arcfour'), 'INVALID_UNSUPPORTED', /not supported/],
    ['unknown OTP algorithm URN', FIG2.replace('pskc:hotp', 'pskc:motp'), 'INVALID_UNSUPPORTED', /not an OTP algorithm/],
    ['non-decimal response encoding', FIG2.replace('<Issuer>Issuer-A</Issuer>', '<Issuer>Issuer-A</Issuer><AlgorithmParameters><ResponseFormat Length="8" Encoding="HEXADECIMAL"/></AlgorithmParameters>'), 'INVALID_UNSUPPORTED', /DECIMAL/],
    ['digits out of range', FIG2.replace('<Issuer>Issuer-A</Issuer>', '<Issuer>Issuer-A</Issuer><AlgorithmParameters><ResponseFormat Length="4" Encoding="DECIMAL"/></AlgorithmParameters>'), 'INVALID_SEED', /digits/],
    ['counter that is not a number', FIG6.replace('<PlainValue>0</PlainValue>', '<PlainValue>zero</PlainValue>'), 'INVALID_PSKC', /not a decimal integer/],
  ] as const)('%s', (_name, xml, code, message) => {
    expect(codeOf(xml, { psk: PSK, password: 'qwerty' })).toBe(code);
    expect(messageOf(xml, { psk: PSK })).toMatch(message);
  });
});

describe('XML syntax errors (strict parser)', () => {
  it.each([
    ['mismatched end tag', '<KeyContainer><a></b></KeyContainer>', /does not match/],
    ['unbound prefix', '<x:KeyContainer/>', /prefix "x"/],
    ['duplicate attribute', '<KeyContainer a="1" a="2"/>', /duplicate attribute/],
    ['two roots', '<KeyContainer/><KeyContainer/>', /second root/],
    ['text after the root', '<KeyContainer/>junk', /text outside/],
    ['bare ampersand', '<KeyContainer>a & b</KeyContainer>', /bare '&'/],
    ['illegal character reference', '<KeyContainer>&#0;</KeyContainer>', /not a legal XML character/],
    ['< inside an attribute', '<KeyContainer a="<"/>', /'<'/],
    ['unquoted attribute', '<KeyContainer a=1/>', /malformed attributes/],
    ['unsupported encoding', '<?xml version="1.0" encoding="ISO-8859-1"?><KeyContainer/>', /not supported/],
  ])('%s', (_name, xml, message) => {
    expect(() => parseXml(xml)).toThrow(expect.objectContaining({ code: 'INVALID_PSKC', message: expect.stringMatching(message) }));
  });
});

describe('the CLI reports hostile files in one line, exit 2', () => {
  // One process is enough to prove the wiring (each spawn costs a tsx start); the library tests above cover the cases.
  it('XXE', async () => {
    const xxe = join(tmp.dir, 'xxe.xml');
    writeFileSync(xxe, `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/shadow">]><KeyContainer>&e;</KeyContainer>`);
    const r = await tokenforge(['pskc', 'inspect', xxe, '--psk', PSK]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^tokenforge: error: XML: refusing a <!DOCTYPE> declaration at line 1: .*remove the DOCTYPE\/ENTITY lines\n$/);
    expect(r.stdout).toBe('');
  });
  it('wrong MAC and a non-UTF-8 file (library path the CLI uses)', async () => {
    const badMac = join(tmp.dir, 'badmac.xml');
    writeFileSync(badMac, FIG6.replace('Su+NvtQfmvfJzF6bmQiJqoLRExc=', 'AAAAvtQfmvfJzF6bmQiJqoLRExc='));
    await expect(loadSeeds({ kind: 'pskc', file: badMac, psk: PSK })).rejects.toMatchObject({ code: 'INVALID_MAC', message: expect.stringMatching(/ValueMAC does not match/) });
    const latin1 = join(tmp.dir, 'latin1.xml');
    writeFileSync(latin1, Buffer.from([0x3c, 0x61, 0x3e, 0xe9, 0x3c, 0x2f, 0x61, 0x3e]));
    await expect(loadSeeds({ kind: 'pskc', file: latin1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/not valid UTF-8/) });
  });
});
