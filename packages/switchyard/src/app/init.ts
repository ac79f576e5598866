import { createRequire } from 'node:module';
import { cpus, hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { registerBmlParams, Transports, type ModexEntry } from '@switchyard/core-bml';
import { Mca } from '@switchyard/mca';
import { Pml, registerPmlParams, setYieldInterval } from '@switchyard/pml';
import { ContextPairs } from './context-pairs.js';
import { registerFinalizeParams } from './finalize-params.js';
import { registerLauncherParams } from './launcher-params.js';
import { connectWireUp, LoopHold, type WireUp } from '@switchyard/runtime';
import { ControlAgent, installCoordinator, ModuleRecovery, registerCriuParams } from '@switchyard/control';
import { installExitHooks } from './exit-hooks.js';
import { MpiError } from './errors.js';
import { World } from './world.js';
import { verboseRequested } from '@switchyard/cli-kit';
import { INSTALLATION } from '../installation.js';

// The built module (a thread loads it): resolved without the source condition tests run under.
const CONTROL_PLANE = pathToFileURL(createRequire(import.meta.url).resolve('@switchyard/control/control-plane'));

let initCalled = false;

export interface InitOptions {
  /** Where the project config and component packages are searched from; default: cwd. */
  readonly cwd?: string;
}

/**
 * Joins the job (MPI_Init): wires up with the launcher (or as a singleton job of one rank when
 * started with plain `node`), reads the MCA parameters, loads the selected transports, runs the
 * modex and returns the world. A configuration or wire-up error aborts the job with its message.
 * A script that ends without calling `world.finalize()` is finalized when its event loop has
 * nothing left to do, and one that throws names its rank on stderr (see "How a rank's script
 * ends" in docs/running-jobs.md).
 */
export async function init(options: InitOptions = {}): Promise<World> {
  // MPI_Init once per process: a second join would take this rank's place in the job again.
  if (initCalled) {
    throw new MpiError('ERR_OTHER', 'init() was already called in this process (MPI_Init may be called once): use the world it returned');
  }
  initCalled = true;
  // Under mpirun/srun the controlling rank runs the control plane in a thread of its own.
  let wireup: WireUp;
  try {
    wireup = await connectWireUp(process.env, { controlPlane: CONTROL_PLANE });
  } catch (err) {
    return exitWith(`switchyard: could not join the job: ${(err as Error).message ?? err}`, err, []);
  }
  const cwd = resolve(options.cwd ?? process.cwd());
  const script = process.argv[1] ? dirname(resolve(process.argv[1])) : cwd;
  let mca: Mca;
  let transports: Transports;
  try {
    mca = await Mca.load({
      installation: INSTALLATION,
      cwd,
      commandLine: wireup.mcaCommandLine,
      searchFrom: [cwd, script],
      // Every rank reads the same configuration: one warning per job is enough.
      warnings: wireup.rank === 0,
      // The components' own lines (their lifecycle trace, what they log while they open) name no
      // rank: every rank prints them, and a job's stderr is the ranks' interleaved.
      log: (line) => process.stderr.write(line.startsWith('[mca:') ? `[rank ${wireup.rank}] ${line}\n` : `${line}\n`),
    });
    const { busyPoll, busyPollOversubscribed, failover, yieldInterval, sendWindow } = registerPmlParams(mca.params);
    setYieldInterval(yieldInterval.value);
    registerFinalizeParams(mca.params);
    registerLauncherParams(mca.params);
    // Read by the tools that save and restore the job; known here so a parameter file setting it is no unknown parameter.
    registerCriuParams(mca.params);
    transports = new Transports(
      mca,
      { jobId: wireup.jobId, rank: wireup.rank, size: wireup.size, hostname: wireup.nodeName || hostname(), secret: wireup.secret },
      (data, name) => wireup.exchange(data as unknown as Record<string, unknown>, name) as unknown as Promise<ModexEntry[]>,
    );
    const failoverOptions = registerBmlParams(mca.params);
    // A peer busy in application code is alive: the launcher's activity monitor says so.
    const peerActivity = wireup.peerActivity?.bind(wireup);
    transports.bml.configureFailover({ ...failoverOptions, ...(peerActivity ? { peerActivity } : {}) });
    // The PML's handlers first: a peer whose links came up sooner may send before ours did.
    const loopHold = new LoopHold();
    const pml = new Pml(transports.bml, {
      busyPoll: busyPoll.value,
      failover: failover.value,
      sendWindow: sendWindow.value,
      keepAlive: loopHold,
    });
    // MPI's errors-are-fatal: a peer no transport reaches any more ends the job, naming it and why.
    transports.bml.hooks.peerLost.tap('errors-are-fatal', (error) => {
      // The launcher names the rank that aborts: the message says only what happened.
      void wireup.abort(1, error.message);
    });
    // The transports' handles do not keep the loop alive (see LoopHold): held while they start.
    await loopHold.during(transports.start());
    // Open MPI's yield-when-idle under oversubscription: with more ranks on this host than it has
    // cores, a rank that polls while it waits takes the core the rank it waits for needs.
    const [ranks, cores] = [transports.nodeRanks().length, cpus().length];
    if (pml.busyPolling && ranks > cores && !busyPollOversubscribed.value) {
      pml.stopBusyPolling(`${ranks} ranks on this host, ${cores} cores (pml_busy_poll_oversubscribed 1 keeps it)`);
    }
    const control = new ControlAgent(transports, mca, wireup, () => pml.state());
    control.install();
    const recovery = new ModuleRecovery(transports, wireup, failoverOptions.recoveryIntervalMs);
    recovery.apply(transports.bml);
    // With no launcher of ours (mpirun, srun), one rank hosts the job's control plane: on its
    // main thread only where the controller thread could not be used.
    if (wireup.controlHost) installCoordinator(wireup.controlHost);
    const world = new World({ pml, transports, mca, wireup, control, loopHold, pairs: new ContextPairs(), finalized: false });
    installExitHooks(world);
    return world;
  } catch (err) {
    return abortWith(wireup, err);
  }
}

async function abortWith(wireup: WireUp, err: unknown): Promise<never> {
  const why = `could not initialise: ${(err as Error).message ?? err}`;
  if (wireup.kind === 'singleton') return exitWith(`switchyard: rank ${wireup.rank} ${why}`, err, wireup.mcaCommandLine);
  // The launcher (or the job's controller) names the rank that aborts.
  return wireup.abort(1, why);
}

/**
 * With no launcher to tell, MPI's errors-are-fatal: the one line that says what is wrong and exit
 * 1; the stack trace only when a `*_verbose` parameter asks for it.
 */
function exitWith(message: string, err: unknown, mcaPairs: ReadonlyArray<readonly [string, string]>): never {
  process.stderr.write(`${message}\n`);
  if (verboseRequested(process.env, mcaPairs) && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}
