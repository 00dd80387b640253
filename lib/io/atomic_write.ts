// Replacing a file all at once: the contents go to a temporary file in the same directory,
// which is flushed to disk and then renamed over the target. On any failure the temporary file
// is removed and the target is left as it was.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';

/** Appends one chunk to the file being written. */
export type WriteChunk<R> = (chunk: Uint8Array) => R;

/** A fresh name next to `file`: file.tmp-<pid>-<random>. */
function temporaryPathFor(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function writeAllSync(fd: number, chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let done = 0;
  while (done < chunk.length) done += (await handle.write(chunk, done, chunk.length - done)).bytesWritten;
}

/** Writes `file` atomically with the chunks that `fill` passes to its write function. */
export function writeFileAtomicallySync(file: string, fill: (write: WriteChunk<void>) => void): void {
  const temporary = temporaryPathFor(file);
  const fd = openSync(temporary, 'wx');
  try {
    try {
      fill((chunk) => writeAllSync(fd, chunk));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

/** As writeFileAtomicallySync, with asynchronous writes. */
export async function writeFileAtomically(file: string, fill: (write: WriteChunk<Promise<void>>) => Promise<void>): Promise<void> {
  const temporary = temporaryPathFor(file);
  const handle = await open(temporary, 'wx');
  try {
    try {
      await fill((chunk) => writeAll(handle, chunk));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}
