import * as accessanalyzer from 'aws-cdk-lib/aws-accessanalyzer';
import { Construct } from 'constructs';
import { PROJECT } from '../shared/naming';

/**
 * IAM Access Analyzer for the account in one region: a finding for every resource of the region
 * (bucket, key, role trust, secret, queue, snapshot) that admits a principal outside the account.
 * External access analysis is free.
 */
export class AccessAnalyzer extends Construct {
  readonly analyzer: accessanalyzer.CfnAnalyzer;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.analyzer = new accessanalyzer.CfnAnalyzer(this, 'Analyzer', { type: 'ACCOUNT', analyzerName: `${PROJECT}-account` });
  }
}
