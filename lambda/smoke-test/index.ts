import { EC2Client } from '@aws-sdk/client-ec2';
import { type LifecycleHookEvent, type LifecycleHookResponse, settingsFromEnv, smokeTest } from './smoke';

const ec2 = new EC2Client({ maxAttempts: 5, retryMode: 'adaptive' });

/** The POST_TEST_TRAFFIC_SHIFT lifecycle hook of the web service: smoke-tests the new revision. */
export async function onHook(event: LifecycleHookEvent): Promise<LifecycleHookResponse> {
  let settings: ReturnType<typeof settingsFromEnv>;
  try {
    settings = settingsFromEnv(process.env);
  } catch (error) {
    console.error(JSON.stringify({ message: 'smoke test FAILED: the function is misconfigured, so the release rolls back', problem: (error as Error).message }));
    return { hookStatus: 'FAILED' };
  }
  return smokeTest(event, settings, ec2);
}
