import * as s3 from 'aws-cdk-lib/aws-s3';

/** What every bucket of the project is: versioned, no public access, no ACLs (the owner owns every object), TLS only. */
export const PRIVATE_BUCKET = {
  versioned: true,
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  enforceSSL: true,
} as const satisfies s3.BucketProps;
