import { readFileSync } from 'node:fs';

/** Where the Lambda Node.js runtimes keep the Amazon RDS CA certificates. */
export const RDS_CA_BUNDLE = '/var/runtime/ca-cert.pem';

/** The TLS options of `pg` that matter here. */
export interface RdsTls {
  readonly rejectUnauthorized: true;
  /** PEM certificates: the only CAs trusted. */
  readonly ca: string;
}

/**
 * TLS options for a connection to an RDS database that trust the Amazon RDS CAs and nothing
 * else. Node replaces its public roots with `ca` when it is given, so a server holding a public
 * certificate for some other name cannot pass for the database (NODE_EXTRA_CA_CERTS would add
 * the RDS CAs to the public roots instead). The host name is checked against the certificate.
 */
export function rdsTls(bundle: string = RDS_CA_BUNDLE, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): RdsTls {
  let ca: string;
  try {
    ca = read(bundle);
  } catch (error) {
    throw new Error(`Cannot read the RDS CA bundle ${bundle} (${(error as Error).message}); refusing to connect without verifying the database's certificate.`);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`The RDS CA bundle ${bundle} holds no certificate; refusing to connect without verifying the database's certificate.`);
  }
  return { rejectUnauthorized: true, ca };
}
