// Which node runs the children: node bench/children/version.mjs
process.stdout.write(`BENCH ${JSON.stringify({ version: process.version })}\n`);
