// SQM from Node: register a supplier, submit the evidence that qualifies it under the default
// telecom pack, then provoke two errors and decode their google.rpc.Status details.
//
//   npm ci && node qualify.js [HOST:PORT] [SUPPLIER_ID]     (default 127.0.0.1:50051, acme-net-node)
//
// The API's protos are loaded from ../../proto at run time (nothing is generated); the error
// details come from the google/rpc protos vendored in ../../proto/vendor, so no network is
// needed. A failed call carries the trailer `grpc-status-details-bin`: a serialized
// google.rpc.Status whose `details` are Any messages (ErrorInfo, BadRequest, ...).
'use strict';

const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO = path.resolve(__dirname, '..', '..', 'proto');
const VENDOR = path.join(PROTO, 'vendor');
const address = process.argv[2] || process.env.SQM_ADDRESS || '127.0.0.1:50051';
const supplierId = process.argv[3] || 'acme-net-node';

// --- the API ------------------------------------------------------------------------------
const definition = protoLoader.loadSync('sqm/v1/supplier_service.proto', {
  includeDirs: [PROTO],
  keepCase: true, // field names as in the .proto: supplier_id, display_name
  enums: String, // enum values by name: LIFECYCLE_STATE_QUALIFIED
  longs: String,
  defaults: true,
});
const sqm = grpc.loadPackageDefinition(definition).sqm.v1;
const client = new sqm.SupplierService(address, grpc.credentials.createInsecure());

// --- google.rpc.Status and its details ----------------------------------------------------
const rpc = new protobuf.Root();
rpc.resolvePath = (_origin, target) => {
  // google/protobuf/*.proto are protobufjs's built-in well-known types.
  if (target.startsWith('google/protobuf/')) return target;
  return path.join(VENDOR, target);
};
rpc.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto']);
rpc.resolveAll();
const Status = rpc.lookupType('google.rpc.Status');

/** The google.rpc.Status of a failed call, with each detail decoded by its type URL. */
function richStatus(error) {
  const [bytes] = error.metadata ? error.metadata.get('grpc-status-details-bin') : [];
  if (!bytes) return null;
  const status = Status.decode(bytes);
  const details = status.details.map((any) => {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1); // google.rpc.ErrorInfo
    const type = rpc.lookupType(typeName);
    return { typeName, message: type.toObject(type.decode(any.value), { defaults: true }) };
  });
  return { code: status.code, message: status.message, details };
}

function call(method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 10000 }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

function timestamp(date) {
  return { seconds: String(Math.floor(date.getTime() / 1000)), nanos: 0 };
}

function printError(error) {
  const status = richStatus(error);
  console.log(`error ${grpc.status[error.code]}: ${error.details}`);
  for (const { typeName, message } of status ? status.details : []) {
    if (typeName === 'google.rpc.ErrorInfo') {
      console.log(`reason ${message.reason} (domain ${message.domain})`);
    } else if (typeName === 'google.rpc.BadRequest') {
      for (const violation of message.field_violations || message.fieldViolations) {
        console.log(`violation ${violation.field}: ${violation.description}`);
      }
    }
  }
}

async function expectError(method, request) {
  try {
    await call(method, request);
  } catch (error) {
    printError(error);
    return;
  }
  throw new Error(`${method} succeeded; an error was expected`);
}

async function main() {
  const registered = await call('RegisterSupplier', {
    supplier_id: supplierId,
    display_name: 'ACME Networks (from Node)',
    category: 'network_equipment',
    request_id: crypto.randomUUID(),
  });
  console.log(`registered ${registered.supplier.name}`);

  const now = new Date();
  const year = 365 * 24 * 3600 * 1000;
  const certificate = (kind, number, issuer) => ({
    kind,
    number,
    issuer,
    valid_from: timestamp(new Date(now.getTime() - year)),
    valid_until: timestamp(new Date(now.getTime() + year)),
  });
  const qualified = await call('SubmitQualificationEvidence', {
    name: registered.supplier.name,
    scores: {
      capability: 85,
      price: 78,
      delivery_lead_time: 80,
      quality_management: 90,
      past_performance: 75,
    },
    certificates: [
      certificate('business_licence', 'BL-1', 'SAMR'),
      certificate('iso_9001', 'Q-1', 'BSI'),
      certificate('tl_9000', 'TL-1', 'QuEST Forum'),
    ],
    site_audit_result: 'SITE_AUDIT_RESULT_PASSED',
    request_id: crypto.randomUUID(),
  });
  console.log(`state ${qualified.supplier.state}`);

  // The same id again: ALREADY_EXISTS, ErrorInfo.reason SUPPLIER_ALREADY_EXISTS.
  await expectError('RegisterSupplier', {
    supplier_id: supplierId,
    display_name: 'ACME again',
    category: 'network_equipment',
    request_id: crypto.randomUUID(),
  });
  // Several bad fields: INVALID_ARGUMENT, a BadRequest naming every one.
  await expectError('RegisterSupplier', { supplier_id: 'Not An Id', display_name: ' ' });
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => client.close());
