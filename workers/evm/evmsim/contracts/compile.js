// Regenerates the committed artifacts (*.abi, *.bin) from MockUSDC.sol with solc-js 0.8.28,
// evmVersion paris (deployable on any EVM). Run through `make contracts`; tests and CI only
// read the committed outputs.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const source = 'MockUSDC.sol';
const contracts = ['MockUSDC', 'MockERC721Emitter'];
const dir = __dirname;

const input = {
  language: 'Solidity',
  sources: { [source]: { content: fs.readFileSync(path.join(dir, source), 'utf8') } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'paris',
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};

const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length > 0) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
for (const name of contracts) {
  const c = out.contracts[source][name];
  fs.writeFileSync(path.join(dir, name + '.abi'), JSON.stringify(c.abi) + '\n');
  fs.writeFileSync(path.join(dir, name + '.bin'), c.evm.bytecode.object + '\n');
  console.log(`${name}: ${c.evm.bytecode.object.length / 2} bytes of init code (solc ${solc.version()})`);
}
