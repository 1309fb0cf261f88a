import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { routeList } from '../../lib/api/routes/index.js';

const run = promisify(execFile);

describe('serverless package', () => {
  it('packages every function offline into its own small zip (bundle + wasm only)', async () => {
    // Prepare / Act: no AWS credentials are needed to package.
    const outDir = path.resolve('.serverless-test');
    await run(path.resolve('node_modules/.bin/serverless'), ['package', '--package', outDir], { env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    // Assess
    for (const fn of ['predict', 'metadata']) {
      const zip = (await stat(path.join(outDir, `${fn}.zip`))).size;
      const dir = path.resolve('dist', fn);
      const scripts = (await readdir(dir)).filter((file) => file.endsWith('.js'));
      const bundle = (await Promise.all(scripts.map(async (file) => (await stat(path.join(dir, file))).size))).reduce((a, b) => a + b, 0);
      expect(zip, fn).toBeLessThan(1024 * 1024);
      // Compressed, the zip still holds one bundle (index.js and its chunks) and the 425 KB wasm, not the whole repo.
      expect(zip, fn).toBeGreaterThan(300 * 1024);
      expect(zip, fn).toBeLessThan(bundle);
    }
    // The CloudFormation it would deploy: routes that write need IAM, reads are open (readAuth=none),
    // and the stage throttles.
    const templateText = await readFile(path.join(outDir, 'cloudformation-template-update-stack.json'), 'utf8');
    const template = JSON.parse(templateText) as {
      Resources: Record<string, { Type: string; DependsOn?: string | string[]; Properties: Record<string, unknown> }>;
    };
    // Every ARN names its partition (${AWS::Partition}): in GovCloud (aws-us-gov) or China (aws-cn)
    // an arn:aws: grant allows nothing and an arn:aws:states::: task cannot run.
    const policies = Object.values(template.Resources).flatMap((r) =>
      r.Type === 'AWS::IAM::Role' ? ((r.Properties.Policies ?? []) as unknown[]) : r.Type === 'AWS::IAM::Policy' ? [r.Properties] : [],
    );
    expect(policies.length).toBeGreaterThan(6);
    expect(JSON.stringify(policies)).toContain(`arn:\${AWS::Partition}:s3:::`);
    expect(templateText).not.toContain('arn:aws:');
    // The state machine: the plugin's Fn::Sub, its tasks in the stack's own partition.
    const machine = Object.values(template.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    const definition = (machine?.Properties.DefinitionString as { 'Fn::Sub'?: string } | undefined)?.['Fn::Sub'] ?? '';
    const tasks = JSON.stringify(JSON.parse(definition)).match(/"Resource":"[^"]*"/g);
    expect(new Set(tasks)).toEqual(new Set(['lambda:invoke', 's3:getObject', 's3:putObject'].map((t) => `"Resource":"arn:\${AWS::Partition}:states:::${t}"`)));
    const resources = Object.values(template.Resources);
    const routes = new Map(resources.filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => [r.Properties.RouteKey as string, r.Properties.AuthorizationType]));
    for (const route of routeList()) {
      for (const key of (route.gateway ? [route.gateway] : route.paths).map((p) => `${route.method} ${p}`)) {
        expect([key, routes.get(key)]).toEqual([key, route.auth === 'write' ? 'AWS_IAM' : undefined]);
      }
    }
    const stageResource = resources.find((r) => r.Type === 'AWS::ApiGatewayV2::Stage');
    const stage = stageResource?.Properties as { DefaultRouteSettings: Record<string, unknown>; RouteSettings: Record<string, unknown> };
    expect(Number(stage.DefaultRouteSettings.ThrottlingRateLimit)).toBeGreaterThan(0);
    expect(Number(stage.DefaultRouteSettings.ThrottlingBurstLimit)).toBeGreaterThan(0);
    // CloudFormation fails a stage whose RouteSettings name a route not yet created: it waits for each.
    const routeIds = new Map(
      Object.entries(template.Resources)
        .filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Route')
        .map(([id, r]) => [r.Properties.RouteKey as string, id]),
    );
    const dependsOn = [stageResource?.DependsOn ?? []].flat();
    for (const key of Object.keys(stage.RouteSettings)) expect([key, dependsOn]).toEqual([key, expect.arrayContaining([routeIds.get(key)])]);
    // Packaging alone takes 45-55 s on two shared cores: the default 60 s was not enough.
  }, 180_000);
});
