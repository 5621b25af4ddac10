/**
 * `tokenforge conformance run|list`: run conformance suites (conformance/suites.ts) against the library or a
 * target and report the result as text, JSON or JUnit XML. Exit 0 only when no case failed (and at least one
 * passed); 1 when a case failed; 2 for bad arguments.
 */
import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { REPORT_FORMATS, renderReport, summaryLine, type ReportFormat } from '../../conformance/report.ts';
import { ConformanceError, reportPassed, runConformance } from '../../conformance/runner.ts';
import { SUITES } from '../../conformance/suites.ts';
import { UsageError } from '../errors.ts';
import { integer, single } from '../flags.ts';

type Args = Record<string, unknown>;

const runCommand: CommandModule<object, Args> = {
  command: 'run',
  describe: 'Run a conformance suite (or all that fit the target) and report every case',
  builder: (y) =>
    y
      .option('suite', { type: 'string', demandOption: true, describe: `Suite name (${SUITES.map((s) => s.name).join(', ')}) or all`, requiresArg: true })
      .option('target', { type: 'string', describe: 'What to test: a device path or tcp://HOST:PORT (transport suites), an http(s):// URL (verifier suites); library suites need none', requiresArg: true })
      .option('api-key', { type: 'string', describe: 'API key for targets that need one (verifier)', requiresArg: true })
      .option('format', { type: 'string', choices: REPORT_FORMATS, default: 'text', describe: 'Report format' })
      .option('output', { alias: 'o', type: 'string', describe: 'Write the report to FILE (a summary line still goes to stdout)', requiresArg: true })
      .option('timeout-ms', { type: 'string', default: '5000', describe: 'Per-operation timeout for remote targets, in ms', requiresArg: true })
      .example('$0 conformance run --suite otp', 'Every RFC 4226/6238/6287 vector through the library')
      .example('$0 conformance run --suite all --format junit --output conformance.xml', 'JUnit XML for CI')
      .example('$0 conformance run --suite otp --format json | jq ".failed"', 'Machine-readable results') as Argv<Args>,
  handler: async (args) => {
    const options: Parameters<typeof runConformance>[0] = {
      suite: String(single(args['suite'], '--suite')),
      timeoutMs: integer(args['timeout-ms'], '--timeout-ms', { min: 1, max: 999_999_999 }),
      log: (m) => process.stderr.write(`tokenforge: ${m}\n`),
    };
    const target = single(args['target'], '--target');
    if (target !== undefined) options.target = target;
    const apiKey = single(args['api-key'], '--api-key');
    if (apiKey !== undefined) options.apiKey = apiKey;
    let report;
    try {
      report = await runConformance(options);
    } catch (e) {
      if (e instanceof ConformanceError) throw new UsageError(`--${e.code === 'INVALID_SUITE' ? 'suite' : 'target'}: ${e.message}`);
      throw e;
    }
    const text = renderReport(report, args['format'] as ReportFormat);
    const output = single(args['output'], '--output');
    if (output !== undefined) {
      try {
        writeFileSync(output, text);
      } catch (e) {
        throw new Error(`--output ${output}: cannot write the report (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      process.stdout.write(`${summaryLine(report)}\n`);
    } else {
      process.stdout.write(text);
    }
    process.exitCode = reportPassed(report) ? 0 : 1;
  },
};

const listCommand: CommandModule<object, Args> = {
  command: 'list',
  describe: 'List the conformance suites and the target each needs',
  handler: () => {
    for (const s of SUITES) process.stdout.write(`${s.name.padEnd(12)} target: ${s.target.padEnd(9)} ${s.description}\n`);
  },
};

export const conformanceCommand: CommandModule<object, Args> = {
  command: 'conformance',
  describe: 'Run RFC vector, transport and verifier conformance suites',
  builder: (y) => y.command(runCommand).command(listCommand).demandCommand(1, 'Name a subcommand: run or list') as Argv<Args>,
  handler: () => {},
};
