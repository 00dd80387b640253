// Runs a Node.js child process without blocking the test worker's event loop (a blocked
// worker cannot answer vitest's heartbeats), collecting its output and exit status.
import { spawn } from 'node:child_process';

export interface NodeResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** node [--import tsx] ...args; `tsx` loads TypeScript entry points. */
export function runNode(args: string[], options: { env?: NodeJS.ProcessEnv; tsx?: boolean; timeoutMs?: number } = {}): Promise<NodeResult> {
  return runCommand(process.execPath, options.tsx === false ? args : ['--import', 'tsx', ...args], options);
}

/** Any command, killed after timeoutMs (default 240 s). */
export function runCommand(command: string, argv: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<NodeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { env: options.env ?? process.env });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
