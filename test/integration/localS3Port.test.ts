/**
 * npm start's local S3 on a port another process holds: one line naming the port and LOCAL_S3_PORT
 * (s3rver threw EADDRINUSE from an unhandled 'error' event, with its stack), and nothing started.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { PortInUseError, startLocalS3 } from '../../scripts/local/s3.js';

it("a taken port is a PortInUseError naming it, and the port is the holder's still", async () => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as net.AddressInfo).port;
  const directory = await mkdtemp(path.join(os.tmpdir(), 'local-s3-port-'));
  try {
    const started = startLocalS3({ directory, port });
    await expect(started).rejects.toThrow(PortInUseError);
    await expect(started).rejects.toThrow(`the local S3's port ${port} is in use (another npm start?): set LOCAL_S3_PORT to a free port`);
    expect(holder.listening).toBe(true);
  } finally {
    holder.close();
    await rm(directory, { recursive: true, force: true });
  }
});
