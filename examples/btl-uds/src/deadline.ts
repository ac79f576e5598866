/** One pending timeout of a connection (handshake, hold, linger): arming it again replaces it. */
export class Deadline {
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly ms: number) {}

  arm(action: () => void): void {
    this.clear();
    this.#timer = setTimeout(action, this.ms);
  }

  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
