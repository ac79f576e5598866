import { createServer, type Server, type Socket } from 'node:net';

/**
 * Listens on `address`: on an ephemeral port when `portMin` is 0, else on the first free port of
 * `portMin .. portMin + portRange - 1` (Open MPI's btl_tcp_port_min_v4 / port_range_v4, for
 * sites whose firewalls open a known range).
 */
export async function listen(address: string, portMin: number, portRange: number, onConnection: (socket: Socket) => void): Promise<Server> {
  const last = portMin === 0 ? 0 : Math.min(65535, portMin + portRange - 1);
  for (let port = portMin; ; port++) {
    try {
      return await listenOnce(address, port, onConnection);
    } catch (err) {
      if (portMin === 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port >= last) throw err;
    }
  }
}

function listenOnce(address: string, port: number, onConnection: (socket: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Paused: the connection takes the accepted socket over before anything is read (socket-open.ts).
    const server = createServer({ pauseOnConnect: true }, onConnection);
    server.once('error', reject);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off('error', reject);
      // The PML keeps the loop alive while a request waits on traffic; an idle listener must
      // not keep a rank whose script is done from finalizing at exit.
      server.unref();
      resolve(server);
    });
  });
}

/** Closes a server; resolves when it and every connection it accepted are gone. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
