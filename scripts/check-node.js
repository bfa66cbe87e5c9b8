// Fails loudly when the test or start command is not running on Node 24+:
// the `node` devDependency puts Node 24 first on PATH for every npm script.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`carelogin needs Node 24 LTS; npm ran ${process.version}. Run "npm ci" so node_modules/.bin/node is installed.`);
  process.exit(1);
}
