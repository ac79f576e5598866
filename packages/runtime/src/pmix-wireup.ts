import { hostname } from 'node:os';
import { PmixClient } from '@switchyard/pmix';
import { ControllerThread } from './controller-thread.js';
import { EmbeddedWireUp } from './embedded-wireup.js';
import { ENV_CONTROLLER_RANK } from './env-names.js';
import { WireUpError } from './errors.js';
import { firstReachable } from './first-reachable.js';
import { newJobSecret } from './job-id.js';
import type { ControlHost } from './job-types.js';
import { RankController } from './rank-controller.js';
import type { WireUp, WireUpOptions } from './wireup.js';

/** The PMIx key under which the controlling rank publishes how to reach its controller. */
const CONTROL_KEY = 'switchyard.control';
const CONTROLLER_CHOICE_KEY = 'switchyard.controller-rank';
/** After abort(), how long to wait for the launcher to kill us before exiting by ourselves. */
const ABORT_EXIT_DELAY_MS = 5000;
/** How often a rank checks that the process that started it (mpirun's orted, slurmstepd) lives. */
const LAUNCHER_CHECK_MS = 1000;
/**
 * A rank's abort goes through the controlling rank (it removes the job record first, and srun
 * SIGKILLs every rank of the step as it ends it); the rank aborts through PMIx itself if the job
 * has not ended within this (the controlling rank is busy, or gone).
 */
const ABORT_VIA_CONTROLLER_MS = 1000;
/**
 * A rank that lost its connection to the controlling rank (which ended or crashed) leaves the
 * launcher this long to end the job first: then the launcher reports the controlling rank's own
 * exit code, not this rank's.
 */
const CONTROLLER_GONE_GRACE_MS = 2000;

/** What the controlling rank publishes in the first fence: the secret and where it listens. */
type ControlCard = { readonly secret: string; readonly uris: string[]; readonly nodeName: string } | { readonly error: string };

/**
 * The wire-up of a rank started by a PMIx launcher (mpirun, srun --mpi=pmix): identity, modex
 * and barriers go through PMIx (put / commit / fence / get); the control channel goes to a
 * controller one rank of the job runs (rank 0, or $SWITCHYARD_CONTROLLER_RANK), since there is no
 * HNP of ours. PMIx events are not used: under Slurm any event kills the whole step.
 *
 * PMIx fences are matched by order, not by name, so this wire-up runs its collectives one at a
 * time in call order: every rank must call exchange() and barrier() in the same order (they do:
 * at start, and within a control verb, one verb at a time).
 */
export class PmixWireUp implements WireUp {
  readonly kind = 'pmix';
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  readonly secret: string;
  /** Parameters come from SWITCHYARD_MCA_* variables, which the launcher exports. */
  readonly mcaCommandLine: Array<[string, string]> = [];
  readonly nodeName: string;
  readonly controlHost?: ControlHost;

  readonly #client: PmixClient;
  readonly #link: EmbeddedWireUp;
  readonly #controller: RankController | ControllerThread | undefined;
  readonly #generations = new Map<string, number>();
  /** The tail of the collectives in flight: each starts when the one before it is done. */
  #serial: Promise<unknown> = Promise.resolve();
  #finalizing: Promise<void> | null = null;

  private constructor(
    client: PmixClient,
    secret: string,
    link: EmbeddedWireUp,
    controller: RankController | ControllerThread | undefined,
    nodeName: string,
  ) {
    this.#client = client;
    this.jobId = link.jobId;
    this.rank = client.info.rank;
    this.size = client.info.size;
    this.secret = secret;
    this.nodeName = nodeName;
    this.#link = link;
    this.#controller = controller;
    if (controller instanceof RankController) this.controlHost = controller.host;
    watchLauncher(this.rank);
  }

  /** Connects to the PMIx server named in `env`, then to the job's controller (or becomes it). */
  static async connect(env: NodeJS.ProcessEnv, options: WireUpOptions = {}): Promise<PmixWireUp> {
    const client = initPmix(env);
    const { rank, size, nspace } = client.info;
    const nodeName = client.info.nodeName || hostname();
    const jobId = jobIdOf(nspace);
    const controllerRank = readControllerRank(env, size);
    let controller: RankController | ControllerThread | undefined;
    if (rank === controllerRank) {
      let card: ControlCard;
      try {
        const secret = newJobSecret();
        const controllerOptions = {
          jobId,
          size,
          secret,
          nodeName,
          script: process.argv[1] ?? '',
          args: process.argv.slice(2),
          cwd: process.cwd(),
          abort: (message: string, code: number) => {
            controller?.dropRecord();
            abortThroughPmix(client, code, message);
          },
        };
        // In a thread of its own, the controller answers while this rank computes.
        controller =
          options.controlPlane && ControllerThread.available(options.controlPlane)
            ? await ControllerThread.start(controllerOptions, options.controlPlane)
            : await RankController.start(controllerOptions);
        card = { secret, uris: [...controller.uris], nodeName };
      } catch (err) {
        // The other ranks wait in the fence below: tell them why there is no controller.
        card = { error: `rank ${rank} could not start the job's controller: ${(err as Error).message}` };
      }
      client.put(CONTROL_KEY, JSON.stringify(card));
    }
    client.put(CONTROLLER_CHOICE_KEY, JSON.stringify([controllerRank, env[ENV_CONTROLLER_RANK] ?? '']));
    client.commit();
    await client.fence({ collect: true });
    const disagreement = await controllerDisagreement(client, size);
    if (disagreement) {
      controller?.dropRecord();
      await controller?.close();
      throw new WireUpError(disagreement);
    }
    const card = parseCard(await client.get(controllerRank, CONTROL_KEY), controllerRank);
    if ('error' in card) throw new WireUpError(card.error);
    // On the controller's node, loopback first; elsewhere, its network addresses first.
    const loopback = (uri: string) => /^tcp:\/\/(127\.|\[::1\])/.test(uri);
    const sameNode = card.nodeName === nodeName;
    const uris = [...card.uris].sort((a, b) => Number(loopback(b) === sameNode) - Number(loopback(a) === sameNode));
    const onLost = options.onLost ?? ((error: Error) => controllerLost(rank, controllerRank, error));
    const link = await firstReachable(uris, (hnpUri) =>
      EmbeddedWireUp.connectTo({ hnpUri, jobId, rank, size, secret: card.secret, mcaCommandLine: [] }, { ...options, onLost }),
    ).catch((err: Error) => {
      throw new WireUpError(`rank ${rank} cannot reach the job's controller (rank ${controllerRank} on ${card.nodeName}): ${err.message}`);
    });
    return new PmixWireUp(client, card.secret, link, controller, nodeName);
  }

  exchange(data: Record<string, unknown>, name = 'modex'): Promise<Array<Record<string, unknown>>> {
    this.#assertOpen('exchange');
    const key = this.#nextKey(name);
    return this.#inTurn(async () => {
      this.#client.put(key, JSON.stringify(data));
      this.#client.commit();
      await this.#client.fence({ collect: true });
      const values = await Promise.all(Array.from({ length: this.size }, (_, r) => this.#client.get(r, key)));
      return values.map((v) => JSON.parse(String(v)) as Record<string, unknown>);
    });
  }

  async barrier(name = 'barrier'): Promise<void> {
    this.#assertOpen('barrier');
    this.#nextKey(name);
    // With data collection: Slurm 22.05's fence without it does not wait for other nodes' ranks.
    await this.#inTurn(() => this.#client.fence({ collect: true }));
  }

  onRequest(handler: (body: unknown) => Promise<unknown> | unknown): void {
    this.#link.onRequest(handler);
  }

  publishSnapshot(provider: () => unknown): void {
    this.#link.publishSnapshot(provider);
  }

  notify(body: unknown): void {
    this.#link.notify(body);
  }

  finalizingAtExit(): void {
    this.#link.finalizingAtExit();
  }

  abort(code: number, message: string): Promise<never> {
    if (this.#controller || !this.#link.reachesLauncher) {
      // The launcher may SIGKILL this rank as it ends the job: the record goes first.
      this.#controller?.dropRecord();
      abortThroughPmix(this.#client, code, message);
    } else {
      // The controlling rank takes its record along, says which rank aborted and why, then aborts
      // the job through PMIx; this rank does so itself if the job has not ended by then.
      void this.#link.abort(code, message);
      setTimeout(() => abortThroughPmix(this.#client, code, message), ABORT_VIA_CONTROLLER_MS);
    }
    return new Promise<never>(() => {});
  }

  /**
   * Leaves the control channel, waits until every rank has (so the controller is not closed under
   * anyone), closes the controller if this rank runs it, and finalizes PMIx. Idempotent.
   */
  finalize(): Promise<void> {
    this.#finalizing ??= (async () => {
      await this.#link.finalize();
      await this.#inTurn(() => this.#client.fence({ collect: true }));
      await this.#controller?.close();
      this.#client.finalize();
    })();
    return this.#finalizing;
  }

  #nextKey(name: string): string {
    const generation = (this.#generations.get(name) ?? 0) + 1;
    this.#generations.set(name, generation);
    return `switchyard.${name}.${generation}`;
  }

  #inTurn<T>(collective: () => Promise<T>): Promise<T> {
    const turn = this.#serial.then(collective);
    this.#serial = turn.catch(() => {});
    return turn;
  }

  #assertOpen(what: string): void {
    if (this.#finalizing || this.#client.finalized) throw new WireUpError(`cannot ${what}: rank ${this.rank}'s PMIx wire-up is finalized`);
  }
}

/** Loads the addon and connects to the launcher's PMIx server; errors say what to do. */
function initPmix(env: NodeJS.ProcessEnv): PmixClient {
  const started = `this process was started by a PMIx launcher (PMIX_NAMESPACE=${env.PMIX_NAMESPACE}, PMIX_RANK=${env.PMIX_RANK})`;
  try {
    return PmixClient.init();
  } catch (err) {
    const e = err as Error & { code?: string; pmixStatus?: string };
    if (e.code === 'ERR_PMIX_UNAVAILABLE') throw new WireUpError(`${started}, but ${e.message}`, { cause: err });
    throw new WireUpError(`${started}, but joining it failed: ${e.message}`, { cause: err });
  }
}

/** A path-safe job id from the PMIx namespace (mpirun: a number; Slurm: slurm.pmix.<job>.<step>). */
export function jobIdOf(nspace: string): string {
  return `pmix-${nspace.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

/**
 * Ranks that see different SWITCHYARD_CONTROLLER_RANK values would start two controllers (and
 * split the job between them) or wait for a card that no rank publishes: said, naming each value.
 */
async function controllerDisagreement(client: PmixClient, size: number): Promise<string | undefined> {
  const choices = await Promise.all(
    Array.from({ length: size }, async (_, r) => JSON.parse(String(await client.get(r, CONTROLLER_CHOICE_KEY))) as [number, string]),
  );
  const byController = new Map<number, { ranks: number[]; texts: Set<string> }>();
  choices.forEach(([controller, text], r) => {
    const group = byController.get(controller) ?? { ranks: [], texts: new Set() };
    group.ranks.push(r);
    group.texts.add(text === '' ? 'unset' : `'${text}'`);
    byController.set(controller, group);
  });
  if (byController.size === 1) return undefined;
  const groups = [...byController.values()].map(
    (g) => `${g.ranks.length > 1 ? 'ranks' : 'rank'} ${spans(g.ranks)}: ${[...g.texts].join(' or ')}`,
  );
  return (
    `${ENV_CONTROLLER_RANK} differs between the ranks of the job (${groups.join('; ')}): every rank must see the same value ` +
    '(with mpirun, export it to every rank with -x)'
  );
}

/** Ascending ranks as `0, 2, 5-9`: a thousand ranks in a line of a few spans. */
function spans(ranks: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ranks.length; i++) {
    let j = i;
    while (j + 1 < ranks.length && ranks[j + 1] === ranks[j]! + 1) j++;
    out.push(j > i + 1 ? `${ranks[i]}-${ranks[j]}` : j > i ? `${ranks[i]}, ${ranks[j]}` : `${ranks[i]}`);
    i = j;
  }
  return out.join(', ');
}

function readControllerRank(env: NodeJS.ProcessEnv, size: number): number {
  const text = env[ENV_CONTROLLER_RANK];
  if (text === undefined || text === '') return 0;
  const rank = Number(text);
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) {
    throw new WireUpError(`${ENV_CONTROLLER_RANK} must be a rank of the job (0 to ${size - 1}), got '${text}'`);
  }
  return rank;
}

function parseCard(value: string | Buffer, controllerRank: number): ControlCard {
  try {
    const card = JSON.parse(String(value)) as ControlCard;
    if ('error' in card && typeof card.error === 'string') return card;
    if ('secret' in card && typeof card.secret === 'string' && Array.isArray(card.uris) && typeof card.nodeName === 'string') return card;
  } catch {}
  throw new WireUpError(`rank ${controllerRank} published a malformed '${CONTROL_KEY}' in PMIx: ${String(value).slice(0, 200)}`);
}

/** Asks the launcher to end the job (it kills every rank, this one included); exits by itself if it does not. */
function abortThroughPmix(client: PmixClient, code: number, message: string): void {
  process.stderr.write(`switchyard: rank ${client.info.rank} aborted the job with code ${code}: ${message}\n`);
  const exit = () => process.exit(code);
  try {
    client.abort(code, message);
  } catch {
    exit();
  }
  setTimeout(exit, ABORT_EXIT_DELAY_MS);
}

/**
 * The controlling rank's connection closed while this rank runs: it ended or crashed, and the
 * job cannot go on. The launcher ends the job for a rank that exited non-zero: given a moment, it
 * reports that rank's exit code; then this rank exits by itself.
 */
function controllerLost(rank: number, controllerRank: number, error: Error): void {
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  const why = `rank ${rank} lost its connection to the job's controller (rank ${controllerRank})${cause}`;
  setTimeout(() => {
    process.stderr.write(`switchyard: ${why}; the controlling rank ended, and rank ${rank} exits\n`);
    process.exit(1);
  }, CONTROLLER_GONE_GRACE_MS);
}

/**
 * Exits when the launcher's process that started this rank is gone (this process was re-parented).
 * PMIx would say so only through an event, which these launchers do not deliver safely; without
 * this, a killed mpirun can leave its ranks running on.
 */
function watchLauncher(rank: number): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.stderr.write(`switchyard: rank ${rank}: the launcher process that started it (pid ${parent}) is gone; exiting\n`);
    process.exit(1);
  }, LAUNCHER_CHECK_MS);
  timer.unref();
}
