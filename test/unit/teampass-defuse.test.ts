import { expect } from 'chai';
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { TeampassWsError } from '../../src/errors.js';
import { createDefuseKey, decryptDefuse, decryptDefuseToBuffer, encryptDefuse, isDefuseEncrypted, loadDefuseKey } from '../../src/teampass/index.js';
import { thrown } from '../helpers/errors.js';

/**
 * The expected values below are built from the documented format with primitives the module does
 * not use (HKDF from bare HMAC, CTR from an ECB keystream), so a shared mistake cannot make the
 * module agree with itself.
 */
function hkdfSha256(ikm: Buffer, salt: Buffer, info: string | Buffer, length: number): Buffer {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; blocks.length * 32 < length; i++) {
    previous = createHmac('sha256', prk)
      .update(Buffer.concat([previous, Buffer.from(info), Buffer.from([i])]))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function aesCtrByHand(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const ecb = createCipheriv('aes-256-ecb', key, null);
  ecb.setAutoPadding(false);
  const counter = Buffer.from(iv);
  const out = Buffer.alloc(data.length);
  for (let offset = 0; offset < data.length; offset += 16) {
    const keystream = ecb.update(counter);
    for (let j = 0; j < 16 && offset + j < data.length; j++) out[offset + j] = data[offset + j]! ^ keystream[j]!;
    for (let b = 15; b >= 0; b--) {
      counter[b] = (counter[b]! + 1) & 0xff;
      if (counter[b] !== 0) break;
    }
  }
  return out;
}

function defuseByHand(plaintext: Buffer, key: Buffer, salt: Buffer, iv: Buffer): string {
  const authKey = hkdfSha256(key, salt, 'DefusePHP|V2|KeyForAuthentication', 32);
  const encKey = hkdfSha256(key, salt, 'DefusePHP|V2|KeyForEncryption', 32);
  const signed = Buffer.concat([Buffer.from('def50200', 'hex'), salt, iv, aesCtrByHand(encKey, iv, plaintext)]);
  return Buffer.concat([signed, createHmac('sha256', authKey).update(signed).digest()]).toString('hex');
}

function keyFileByHand(key: Buffer): string {
  const body = Buffer.concat([Buffer.from('def00000', 'hex'), key]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]).toString('hex');
}

function sequence(start: number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (start + i) & 0xff));
}

function flipHexDigit(hex: string, index: number): string {
  const flipped = hex[index] === '0' ? '1' : '0';
  return hex.slice(0, index) + flipped + hex.slice(index + 1);
}

describe('teampass/defuse', () => {
  const key = sequence(0x00, 32);
  const salt = sequence(0x20, 32);
  const iv = sequence(0x40, 16);
  const plaintext = 'Tr0ub4dor&3 with a $dollar, "quotes" and ünïcödé, longer than two AES blocks';

  describe('the hand-built reference', () => {
    it('computes RFC 5869 test case 1 (HKDF-SHA256), so it can vouch for the vectors below', () => {
      const okm = hkdfSha256(Buffer.alloc(22, 0x0b), sequence(0x00, 13), sequence(0xf0, 10), 42);
      expect(okm.toString('hex')).to.equal('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
    });

    it('computes AES-256-CTR like OpenSSL, carrying across the whole 128-bit counter', () => {
      const edgeIv = Buffer.from('00000000000000fffffffffffffffffe', 'hex');
      const data = randomBytes(80);
      const native = createCipheriv('aes-256-ctr', key, edgeIv);
      expect(aesCtrByHand(key, edgeIv, data).equals(Buffer.concat([native.update(data), native.final()]))).to.equal(true);
    });
  });

  describe('known answers', () => {
    it('encrypts to exactly the documented construction and decrypts it back', () => {
      const expected = defuseByHand(Buffer.from(plaintext, 'utf8'), key, salt, iv);
      expect(expected.slice(0, 8)).to.equal('def50200');
      expect(encryptDefuse(plaintext, key, { salt, iv })).to.equal(expected);
      expect(decryptDefuse(expected, key)).to.equal(plaintext);
    });

    it('decrypts a hand-built ciphertext whose IV makes the counter carry into its upper half', () => {
      const carryIv = Buffer.from('0102030405060708ffffffffffffffff', 'hex');
      const expected = defuseByHand(Buffer.from(plaintext, 'utf8'), key, salt, carryIv);
      expect(decryptDefuse(expected, key)).to.equal(plaintext);
    });

    it('decrypts a hand-built empty message (the 84-byte minimum)', () => {
      const expected = defuseByHand(Buffer.alloc(0), key, salt, iv);
      expect(expected).to.have.length(168);
      expect(decryptDefuse(expected, key)).to.equal('');
    });

    it('loads a hand-built key file and writes the same text for the same key', () => {
      const text = keyFileByHand(key);
      expect(text).to.have.length(136);
      expect(loadDefuseKey(text).equals(key)).to.equal(true);
      expect(createDefuseKey(key)).to.equal(text);
    });
  });

  describe('round trips', () => {
    it('decrypts what it encrypts with a fresh random key, for empty, short and long values', () => {
      const fresh = loadDefuseKey(createDefuseKey());
      for (const value of ['', 'x', 'p@ss $word \\ "q"', 'é'.repeat(500)]) {
        expect(decryptDefuse(encryptDefuse(value, fresh), fresh)).to.equal(value);
      }
    });

    it('uses a fresh salt and IV each time, like defuse', () => {
      const fresh = loadDefuseKey(createDefuseKey());
      const a = encryptDefuse('same', fresh);
      const b = encryptDefuse('same', fresh);
      expect(a).to.not.equal(b);
      expect(a.slice(8, 104)).to.not.equal(b.slice(8, 104));
    });

    it('returns the raw bytes for plaintext that is not UTF-8', () => {
      const bytes = Buffer.from([0xe9, 0x00, 0xff]);
      expect(decryptDefuseToBuffer(encryptDefuse(bytes, key), key).equals(bytes)).to.equal(true);
    });

    it('creates key files of 136 lowercase hex characters starting with def00000', () => {
      const text = createDefuseKey();
      expect(text).to.match(/^def00000[0-9a-f]{128}$/);
    });
  });

  describe('key files', () => {
    const text = keyFileByHand(key);

    it('ignores trailing NUL, tab, LF, CR and space, as defuse does', () => {
      for (const tail of ['\n', '\r\n', ' ', '\t', '\0', ' \t\r\n\0\n']) {
        expect(loadDefuseKey(text + tail).equals(key), JSON.stringify(tail)).to.equal(true);
      }
    });

    it('accepts upper-case hex, as defuse\'s hexToBin does', () => {
      expect(loadDefuseKey(text.toUpperCase()).equals(key)).to.equal(true);
    });

    it('rejects leading whitespace, which defuse does not trim', () => {
      const err = thrown(() => loadDefuseKey(` ${text}`));
      expect(err.code).to.equal('KEY_FILE');
      expect(err.message).to.match(/not hexadecimal/);
    });

    it('rejects a key whose checksum does not match, with KEY_CHECKSUM', () => {
      const err = thrown(() => loadDefuseKey(flipHexDigit(text, 20)));
      expect(err.code).to.equal('KEY_CHECKSUM');
      expect(err.message).to.match(/checksum does not match/);
      expect(err.suggestion).to.match(/backup/);
    });

    it('rejects a damaged checksum itself too', () => {
      expect(thrown(() => loadDefuseKey(flipHexDigit(text, 135))).code).to.equal('KEY_CHECKSUM');
    });

    it('rejects a wrong header, a wrong length, an empty file and non-hex text with KEY_FILE', () => {
      const badHeader = thrown(() => loadDefuseKey(`def50200${text.slice(8)}`));
      expect(badHeader.code).to.equal('KEY_FILE');
      expect(badHeader.message).to.match(/header def00000/);

      const short = thrown(() => loadDefuseKey(text.slice(0, 134)));
      expect(short.code).to.equal('KEY_FILE');
      expect(short.message).to.match(/67 bytes where a key has 68/);

      expect(thrown(() => loadDefuseKey('\n')).message).to.match(/empty/);
      expect(thrown(() => loadDefuseKey('not a key at all')).message).to.match(/not hexadecimal/);
    });

    it('explains that a password-protected defuse key cannot be used', () => {
      const err = thrown(() => loadDefuseKey(`def10000${text.slice(8)}`));
      expect(err.code).to.equal('KEY_FILE');
      expect(err.message).to.match(/password-protected/);
    });

    it('names the file it was given in messages, and never the key material', () => {
      const err = thrown(() => loadDefuseKey(flipHexDigit(text, 20), 'The key file /srv/secure/abc'));
      expect(err.message).to.contain('/srv/secure/abc');
      expect(`${err.message} ${err.suggestion}`).to.not.contain(text.slice(8, 72));
    });
  });

  describe('decryption failures', () => {
    const secret = 'correct horse battery staple';
    const ciphertext = encryptDefuse(secret, key, { salt, iv });

    function expectNoSecrets(err: TeampassWsError): void {
      const everything = `${err.message}\n${err.suggestion}\n${String(err)}\n${err.stack}`;
      expect(everything).to.not.contain(secret);
      expect(everything).to.not.contain(ciphertext.slice(8, 72));
      expect(everything).to.not.contain(key.toString('hex'));
    }

    it('reports a wrong key as an integrity failure, not as a format problem', () => {
      const err = thrown(() => decryptDefuse(ciphertext, sequence(0x01, 32)));
      expect(err.code).to.equal('DECRYPT_FAILED');
      expect(err.message).to.match(/HMAC mismatch/);
      expect(err.message).to.not.match(/version header/);
      expect(err.suggestion).to.match(/key file/);
      expectNoSecrets(err);
    });

    it('detects a single tampered byte anywhere: salt, IV, body or MAC', () => {
      for (const index of [10, 80, 110, ciphertext.length - 1]) {
        const err = thrown(() => decryptDefuse(flipHexDigit(ciphertext, index), key));
        expect(err.code, `hex digit ${index}`).to.equal('DECRYPT_FAILED');
        expect(err.message).to.match(/integrity check/);
        expectNoSecrets(err);
      }
    });

    it('reports a bad version header as a format problem, not as a MAC mismatch', () => {
      const err = thrown(() => decryptDefuse(`def50100${ciphertext.slice(8)}`, key));
      expect(err.code).to.equal('DECRYPT_FAILED');
      expect(err.message).to.match(/version header is not def50200/);
      expect(err.message).to.not.match(/HMAC/);
      expectNoSecrets(err);
    });

    it('reports truncated and non-hex values as format problems', () => {
      const short = thrown(() => decryptDefuse(ciphertext.slice(0, 166), key));
      expect(short.code).to.equal('DECRYPT_FAILED');
      expect(short.message).to.match(/83 bytes long, shorter than the 84/);

      const odd = thrown(() => decryptDefuse(ciphertext.slice(0, -1), key));
      expect(odd.message).to.match(/not an even-length hexadecimal/);

      const clear = thrown(() => decryptDefuse('default-password', key));
      expect(clear.message).to.match(/not a defuse v2 ciphertext/);
      expect(clear.suggestion).to.match(/clear-text password/);
      expect(`${clear.message} ${clear.suggestion}`).to.not.contain('default-password');
    });

    it('refuses a key that is not 32 bytes', () => {
      const err = thrown(() => decryptDefuse(ciphertext, Buffer.alloc(16)));
      expect(err.code).to.equal('INPUT');
      expect(err.message).to.match(/32 raw bytes/);
    });
  });

  it('treats exactly the values starting with "def" as encrypted, as TeamPass does', () => {
    expect(isDefuseEncrypted('def50200abc')).to.equal(true);
    expect(isDefuseEncrypted('default')).to.equal(true);
    expect(isDefuseEncrypted('DEF50200')).to.equal(false);
    expect(isDefuseEncrypted('secret')).to.equal(false);
    expect(isDefuseEncrypted('')).to.equal(false);
  });
});
