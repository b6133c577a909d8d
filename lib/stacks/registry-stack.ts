import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import type { Construct } from 'constructs';

export interface RegistryStackProps extends StackProps {
  readonly repositoryName: string;
}

/**
 * The app's image repository, one per account and region the stages use (deployed once, not per
 * stage): immutable tags so a tag always means the same build, scanning on push, untagged images
 * expire after 14 days and only the newest 100 tagged images are kept. Retained on deletion: the
 * running services pull from it.
 */
export class RegistryStack extends Stack {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: props.repositoryName,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.KMS,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { description: 'Untagged images (failed or superseded pushes)', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(14), rulePriority: 1 },
        { description: 'Keep the newest 100 images', tagStatus: ecr.TagStatus.ANY, maxImageCount: 100, rulePriority: 2 },
      ],
    });
  }
}
