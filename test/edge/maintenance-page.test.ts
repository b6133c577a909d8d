import { describe, expect, test } from 'vitest';
import { STAGE_NAMES, type StageName } from '../../lib/config';
import { ERROR_CACHING_SECONDS, MAINTENANCE_PAGE_PATH, MAINTENANCE_PATH_PATTERN, maintenancePageHtml } from '../../lib/edge/maintenance-page';
import { type Json, only, resources, stageTemplates } from '../support/template';

const synthesized = stageTemplates();
const edge = (name: StageName) => synthesized[name].edge!;
const distribution = (name: StageName) => only(edge(name), 'AWS::CloudFront::Distribution');
const dc = (name: StageName): Json => distribution(name).resource.Properties.DistributionConfig;
const bucketId = (name: StageName) => only(edge(name), 'AWS::S3::Bucket').id;
/** The distribution's origin for the maintenance bucket. */
const pageOrigin = (name: StageName): Json => dc(name).Origins.find((o: Json) => o.S3OriginConfig !== undefined);

/** CloudFront's managed CachingOptimized policy, by the id AWS publishes. */
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';

describe.each(STAGE_NAMES)('%s: the maintenance page', (name) => {
  test('lives in a private bucket: no public access, SSE-S3, TLS only, read by this distribution alone through origin access control', () => {
    const bucket = only(edge(name), 'AWS::S3::Bucket').resource.Properties;
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect(bucket.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(bucket.WebsiteConfiguration).toBeUndefined();
    // Every statement of its policy: TLS only, and CloudFront reading objects for this distribution only.
    const statements = only(edge(name), 'AWS::S3::BucketPolicy').resource.Properties.PolicyDocument.Statement;
    const arn = { 'Fn::GetAtt': [bucketId(name), 'Arn'] };
    const objects = { 'Fn::Join': ['', [arn, '/*']] };
    expect(statements).toEqual([
      { Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Effect: 'Deny', Principal: { AWS: '*' }, Resource: [arn, objects] },
      {
        Action: 's3:GetObject',
        Condition: {
          StringEquals: {
            'AWS:SourceArn': {
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: distribution(name).id }]],
            },
          },
        },
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Resource: objects,
      },
    ]);
    const oac = only(edge(name), 'AWS::CloudFront::OriginAccessControl');
    expect(oac.resource.Properties.OriginAccessControlConfig).toMatchObject({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' });
    expect(pageOrigin(name)).toEqual({
      DomainName: { 'Fn::GetAtt': [bucketId(name), 'RegionalDomainName'] },
      Id: expect.any(String),
      OriginAccessControlId: { 'Fn::GetAtt': [oac.id, 'Id'] },
      S3OriginConfig: { OriginAccessIdentity: '' },
    });
  });

  test(`is served under ${MAINTENANCE_PATH_PATTERN}, ahead of every other pattern, by the viewer-request function and the security headers like every behaviour`, () => {
    const [first, ...rest] = dc(name).CacheBehaviors;
    expect(rest.map((b: Json) => b.PathPattern)).not.toContain(MAINTENANCE_PATH_PATTERN);
    const fn = only(edge(name), 'AWS::CloudFront::Function').id;
    const headers = only(edge(name), 'AWS::CloudFront::ResponseHeadersPolicy').id;
    // No origin request policy: S3 gets no viewer header (the Host it checks is the bucket's own name).
    expect(first).toEqual({
      PathPattern: MAINTENANCE_PATH_PATTERN,
      TargetOriginId: pageOrigin(name).Id,
      AllowedMethods: ['GET', 'HEAD'],
      CachedMethods: ['GET', 'HEAD'],
      CachePolicyId: CACHING_OPTIMIZED,
      Compress: true,
      FunctionAssociations: [{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fn, 'FunctionARN'] } }],
      ResponseHeadersPolicyId: { Ref: headers },
      ViewerProtocolPolicy: 'redirect-to-https',
    });
    expect(MAINTENANCE_PAGE_PATH.startsWith(MAINTENANCE_PATH_PATTERN.replace('*', ''))).toBe(true);
  });

  test(`answers the origin's 502, 503 and 504 with status 503, errors kept ${ERROR_CACHING_SECONDS} s`, () => {
    expect(dc(name).CustomErrorResponses).toEqual(
      [502, 503, 504].map((ErrorCode) => ({ ErrorCode, ResponseCode: 503, ResponsePagePath: MAINTENANCE_PAGE_PATH, ErrorCachingMinTTL: ERROR_CACHING_SECONDS })),
    );
    // Short, so the site shows again within seconds of recovering (CloudFront's default is 10 s).
    expect(ERROR_CACHING_SECONDS).toBeLessThanOrEqual(10);
  });

  test('is written by the deploy as HTML, the file in lib/edge/maintenance, at the path the errors name; the writer may put that object and nothing else', () => {
    const writer = only(edge(name), 'Custom::MaintenancePage').resource.Properties;
    expect(writer.Update).toEqual(writer.Create);
    // The SDK call, with the bucket's name (a reference) put back.
    const parts = writer.Create['Fn::Join'][1] as (string | Json)[];
    expect(parts.filter((p) => typeof p !== 'string')).toEqual([{ Ref: bucketId(name) }]);
    const call = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'BUCKET')).join(''));
    expect(call).toEqual({
      service: 's3',
      action: 'PutObject',
      parameters: { Bucket: 'BUCKET', Key: MAINTENANCE_PAGE_PATH.slice(1), Body: maintenancePageHtml(), ContentType: 'text/html; charset=utf-8', CacheControl: 'max-age=300' },
      physicalResourceId: { id: MAINTENANCE_PAGE_PATH.slice(1) },
      outputPaths: ['ETag'],
    });
    const policies = resources(edge(name), 'AWS::IAM::Policy').filter((p) => JSON.stringify(p.Properties.Roles).includes('AWS679f53fac002430cb0da5b7982bd2287'));
    expect(policies.flatMap((p) => p.Properties.PolicyDocument.Statement)).toEqual([
      { Action: 's3:PutObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId(name), 'Arn'] }, MAINTENANCE_PAGE_PATH]] } },
    ]);
  });
});

/** HTML elements without an end tag. */
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);

/** Whether the tags nest: every element closed, in order, nothing closed that was not opened. */
function tagProblems(html: string): string[] {
  const open: string[] = [];
  const problems: string[] = [];
  for (const [, slash, tag] of html.replace(/<style>[\s\S]*?<\/style>/g, '<style></style>').matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>/g)) {
    const name = tag.toLowerCase();
    if (VOID.has(name)) continue;
    if (!slash) open.push(name);
    else {
      const expected = open.pop();
      if (expected !== name) problems.push(`</${name}> where ${expected ? `</${expected}>` : 'nothing'} belongs`);
    }
  }
  return [...problems, ...open.map((name) => `<${name}> never closed`)];
}

describe('the page itself', () => {
  const html = maintenancePageHtml();

  test('is an HTML document whose tags nest, in a language, with a title, a heading and the message', () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(tagProblems(html)).toEqual([]);
    expect(html).toMatch(/<meta charset="utf-8">/);
    expect(html).toMatch(/<meta name="viewport" content="width=device-width, initial-scale=1">/);
    expect(html).toMatch(/<title>[^<]+<\/title>/);
    expect(html.match(/<h1>/g)).toHaveLength(1);
    expect(html).toMatch(/being moved/);
    expect(html).toMatch(/try again in a few minutes/i);
  });

  test('the tag check catches a tag left open or closed out of order', () => {
    expect(tagProblems('<html><body><p>text</body></html>')).toEqual(['</body> where </p> belongs', '</html> where </body> belongs', '<html> never closed']);
    expect(tagProblems('<main><h1>title</main></h1>')).toEqual(['</main> where </h1> belongs', '</h1> where </main> belongs']);
    expect(tagProblems('<p>text</p></div>')).toEqual(['</div> where nothing belongs']);
  });

  test('loads nothing from elsewhere and runs no script: it must show when nothing else answers', () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|<object|<embed|\bsrc=|\bhref=|url\(|@import|https?:|\/\//i);
  });
});
