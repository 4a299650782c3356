import type { CommandModule } from 'yargs';
import { spawn } from 'node:child_process';
import { requireRepoSync } from '../../store/git.js';
import { out } from '../print.js';

interface Args {
  port: number;
  host: string;
  open: boolean;
}

/** The platform's "open this URL" command; a failure to open is not an error (the URL is printed). */
function openBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No opener on this machine: the printed URL is the way in.
  }
}

export const command: CommandModule<object, Args> = {
  command: 'ui',
  describe: 'A local web page over the history: runs, charts, run details',
  builder: (y) =>
    y
      .option('port', { type: 'number', default: 0, describe: 'port to listen on (0: any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind; anything but loopback exposes the page to the network, guarded by its token alone' })
      .option('open', { type: 'boolean', default: true, describe: 'open the page in the default browser (--no-open: only print its URL)' })
      .example('$0 ui', 'serve on a free port and open the browser')
      .example('$0 ui --port 8123 --no-open', 'a fixed port; open the printed URL yourself')
      .epilog('The printed URL carries an access token; the page keeps it in a cookie. Ctrl-C stops the server.'),
  handler: async (argv) => {
    const repo = requireRepoSync(process.cwd());
    const { startUi } = await import('../../ui/server.js');
    const ui = await startUi({ repo, host: argv.host, port: argv.port });
    await out(`${ui.url}\n`);
    if (argv.host !== '127.0.0.1' && argv.host !== 'localhost' && argv.host !== '::1') {
      process.stderr.write(`git flor: the page is reachable from the network at ${argv.host}; its token is the only guard\n`);
    }
    if (argv.open) openBrowser(ui.url);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await ui.close();
  },
};
