import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostNetns, inNetns } from '../src/criu/netns.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-netns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'sy-h1'), '');
writeFileSync(join(dir, 'sy-h2'), '');

describe('hosts as network namespaces', () => {
  it('a host name is a namespace file of the folder; an absolute path is taken as it is', () => {
    expect(hostNetns('sy-h2', dir)).toBe(join(dir, 'sy-h2'));
    expect(hostNetns(join(dir, 'sy-h1'), dir)).toBe(join(dir, 'sy-h1'));
  });

  it('refuses an unknown host or a relative path, naming the namespaces there are', () => {
    for (const bad of ['node9', '../sy-h1', '']) {
      expect(() => hostNetns(bad, dir)).toThrow(expect.objectContaining({ code: 'ERR_SWITCHYARD_MIGRATE_HOST' }));
    }
    expect(() => hostNetns('node9', dir)).toThrow("no host 'node9': a host is a network namespace (network namespaces here: sy-h1, sy-h2)");
    expect(() => hostNetns('x', join(dir, 'none'))).toThrow(`(no network namespace in ${join(dir, 'none')})`);
  });

  it('CRIU runs inside the namespace through nsenter, or as it is without one', () => {
    expect(inNetns('/run/netns/sy-h2', '/usr/local/sbin/criu', ['restore'])).toEqual({
      file: 'nsenter',
      args: ['--net=/run/netns/sy-h2', '/usr/local/sbin/criu', 'restore'],
    });
    expect(inNetns(undefined, 'criu', ['dump'])).toEqual({ file: 'criu', args: ['dump'] });
  });
});
