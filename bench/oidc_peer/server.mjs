// node-oidc-provider under node:cluster, one worker per core (PEER_WORKERS), on 127.0.0.1:PEER_PORT.
// Prints "ready N" on standard output once every worker listens; SIGTERM stops the whole cluster.
import cluster from 'node:cluster';
import os from 'node:os';

const workers = Number(process.env.PEER_WORKERS || os.availableParallelism());
const port = Number(process.env.PEER_PORT);

if (cluster.isPrimary) {
  let listening = 0;
  let stopping = false;
  for (let i = 0; i < workers; i += 1) {
    cluster.fork();
  }
  cluster.on('listening', () => {
    listening += 1;
    if (listening === workers) {
      process.stdout.write(`ready ${workers}\n`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      process.stderr.write(`worker ${worker.process.pid} died (${signal || code})\n`);
      process.exit(1);
    }
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) {
      worker.process.kill('SIGTERM');
    }
    setTimeout(() => process.exit(0), 200);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const { buildProvider } = await import('./provider.mjs');
  const provider = buildProvider();
  provider.on('server_error', (_ctx, error) => process.stderr.write(`server_error: ${error.stack}\n`));
  provider.listen(port, '127.0.0.1');
}
