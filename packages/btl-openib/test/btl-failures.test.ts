import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenibModule } from '../src/btl/module.js';
import { readSettings } from '../src/btl/params.js';
import { createSoftProvider } from '@switchyard/verbs';
import { addAll, finalizeAll, initRanks, openibParams, procsOf, RecordingHost, type Rank } from './helpers/btl-job.js';
import { waitFor } from '../../verbs/test/helpers/verbs-end.js';

let job: Rank[] = [];
afterEach(async () => {
  await finalizeAll(job);
  job = [];
});

/** Two modules over the soft provider, rank 0's provider returned to reset its device. */
function softPair() {
  const provider = createSoftProvider();
  const settings = readSettings(openibParams({ provider: 'soft' }));
  const hosts = [new RecordingHost(), new RecordingHost()];
  const module = (rank: number, over: ReturnType<typeof createSoftProvider>) =>
    new OpenibModule({
      provider: over, device: 'soft0', port: 1, rank, size: 2, hostname: hostname(), host: hosts[rank]!, settings, log: () => {},
    });
  const modules = [module(0, provider), module(1, createSoftProvider())];
  job = modules.map((m, rank) => ({ rank, module: m, host: hosts[rank]!, endpoints: [] }));
  return { provider, hosts, modules };
}

describe('openib failures are reported, never thrown', () => {
  it('a peer that went away is an endpoint error with the verbs status, and later sends fail through done', async () => {
    job = await initRanks(2, { ib_timeout: 10, ib_retry_count: 2 });
    await addAll(job);
    const [a, b] = job as [Rank, Rank];
    await new Promise<void>((resolve) => a.module.send(a.endpoints[1]!, 0x40, [Buffer.from('hi')], () => resolve()));
    await b.module.finalize();
    const error = await new Promise<Error | undefined>((resolve) =>
      a.module.send(a.endpoints[1]!, 0x40, [Buffer.from('anyone?')], resolve),
    );
    expect(error?.message).toMatch(/RETRY_EXC_ERR/);
    expect(a.host.errors).toHaveLength(1);
    expect(a.host.errors[0]).toMatchObject({ severity: 'endpoint', endpoint: a.endpoints[1] });
    expect(a.host.errors[0]!.error.message).toMatch(/a fragment to rank 1 failed: RETRY_EXC_ERR/);
    const late = await new Promise<Error | undefined>((resolve) => a.module.send(a.endpoints[1]!, 0x40, [Buffer.from('x')], resolve));
    expect(late?.message).toMatch(/failed/);
    await a.module.flush();
  });

  it('a peer that never comes is reported after connect_timeout', async () => {
    job = await initRanks(2, { ib_timeout: 10, ib_retry_count: 1, connect_timeout: 200 });
    const [a] = job as [Rank, Rank];
    a.endpoints = await a.module.addProcs(procsOf(job));
    const error = await new Promise<Error | undefined>((resolve) => a.module.send(a.endpoints[1]!, 0x40, [Buffer.from('x')], resolve));
    expect(error?.message).toMatch(/no connection to rank 1 within 200 ms/);
    expect(a.host.errors).toMatchObject([{ severity: 'endpoint' }]);
  });

  it('a device reset (VM snapshot or migration) makes the module fail as a whole', async () => {
    const { provider, hosts, modules } = softPair();
    await addAll(job);
    await new Promise<void>((resolve) => modules[0]!.send(job[0]!.endpoints[1]!, 0x40, [Buffer.from('before')], () => resolve()));
    provider.resetDevice();
    await waitFor('the fatal error', () => hosts[0]!.errors.length === 1);
    expect(hosts[0]!.errors[0]).toMatchObject({ module: modules[0], severity: 'fatal' });
    expect(hosts[0]!.errors[0]!.error.message).toMatch(/reset/);
    const error = await new Promise<Error | undefined>((resolve) =>
      modules[0]!.send(job[0]!.endpoints[1]!, 0x40, [Buffer.from('after')], resolve),
    );
    expect(error).toBeInstanceOf(Error);
  });

  it('a reset not heard of yet fails the module when a peer loading anew asks for a refreshed card: no QP on a dead context', async () => {
    const { provider, hosts, modules } = softPair();
    await addAll(job);
    // Rank 1 loads openib anew: rank 0 deleted its endpoint, and will publish a new QP for it.
    await modules[0]!.delProcs([job[0]!.endpoints[1]!]);
    const before = modules[0]!.businessCard;
    provider.resetDevice();
    // At once, before this process has read the device's DEVICE_FATAL.
    const card = modules[0]!.refreshBusinessCard();
    expect(hosts[0]!.errors).toMatchObject([{ module: modules[0], severity: 'fatal' }]);
    expect(hosts[0]!.errors[0]!.error.message).toMatch(/failed or was reset/);
    expect(card).toEqual(before);
  });
});
