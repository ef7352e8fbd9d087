import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The committed test certificates (see certs/README.md). tsc does not copy .pem files, so from
 * dist/test/sim/ we look back into the source tree; running from the sources also works.
 */
function certDir(): string {
  const candidates = [path.resolve(__dirname, '../../../test/sim/certs'), path.resolve(__dirname, 'certs')];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'ca.pem')));
  if (found === undefined) {
    throw new Error(`simulator test certificates not found; looked in ${candidates.join(' and ')}`);
  }
  return found;
}

export interface TestCerts {
  caFile: string;
  otherCaFile: string;
  key: Buffer;
  cert: Buffer;
}

export function testCerts(): TestCerts {
  const dir = certDir();
  return {
    caFile: path.join(dir, 'ca.pem'),
    otherCaFile: path.join(dir, 'other-ca.pem'),
    key: readFileSync(path.join(dir, 'server-key.pem')),
    cert: readFileSync(path.join(dir, 'server.pem')),
  };
}
