import { formatSize, type ParamRegistry } from '@switchyard/mca';

/**
 * The eager limit must fit in a fragment, and no single parameter's check can see that: `open`
 * must (checkBaseSettings). One that skips it starts with `eager_limit` above `max_send_size`
 * without a word, and every eager fragment between the two sizes is refused at run time instead.
 * So the kit sets the eager limit to twice the max send size, probes `open` (the framework's
 * `query`: declining and throwing both leave the component unavailable), and puts the setting
 * back before anything else reads it. The decline must name a parameter the user has to change.
 */
export async function probeSizeMismatch(
  registry: ParamRegistry,
  prefix: string,
  query: () => Promise<{ available: boolean; reason?: string }>,
): Promise<string[]> {
  const eager = `${prefix}eager_limit`;
  const max = `${prefix}max_send_size`;
  if (!registry.has(eager) || !registry.has(max)) return [];
  const before = registry.info(eager);
  const maxSize = registry.get<number>(max);
  const tooLarge = maxSize * 2;
  try {
    registry.setRuntime(eager, tooLarge, { beforeOpen: true });
  } catch {
    // The parameter's own checks refuse it (a max of its own): no open can see that setting.
    return [];
  }
  let answer: { available: boolean; reason?: string };
  try {
    answer = await query();
  } catch (error) {
    answer = { available: false, reason: `the query threw: ${(error as Error).message}` };
  } finally {
    if (before.source === 'runtime') registry.setRuntime(eager, before.value, { beforeOpen: true });
    else registry.clearRuntime(eager);
  }
  const setting = `${eager} ${formatSize(tooLarge)} above ${max} ${formatSize(maxSize)}`;
  if (answer.available)
    return [`open() accepted ${setting}: the component would load and advertise eager messages larger than its largest fragment, ` +
      `each refused at run time; open must decline, naming the parameters (call checkBaseSettings in open)`];
  const reason = answer.reason ?? '';
  if (!/eager_limit|max_send_size/.test(reason))
    return [`open() declined ${setting}, but its reason does not name either parameter (${reason || 'no reason given'}): a user ` +
      `cannot tell what to change (checkBaseSettings names both)`];
  return [];
}
