// WatermelonDB's own synchronize() against a running Kasir Edge server: two simulated
// terminals, each with an in-memory LokiJS database, sync products and sales through
// GET|POST /v1/sync/watermelon.
//
// Run with `npm ci && node --test` in this folder, with KASIR_BASE_URL (for example
// http://127.0.0.1:8787) and KASIR_ADMIN_TOKEN set. Each run provisions a new tenant.

'use strict'

const assert = require('node:assert/strict')
const { randomUUID } = require('node:crypto')
const { afterEach, before, test } = require('node:test')

const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { synchronize } = require('@nozbe/watermelondb/sync')
const { setGenerator } = require('@nozbe/watermelondb/utils/common/randomId')
const logger = require('@nozbe/watermelondb/utils/common/logger').default

const BASE_URL = (process.env.KASIR_BASE_URL || '').replace(/\/+$/, '')
const ADMIN_TOKEN = process.env.KASIR_ADMIN_TOKEN || ''
const PASSWORD = 'Rahasia-Kasir-123'

// The server keys records by lower-case UUID, and WatermelonDB's default ids are not UUIDs.
setGenerator(() => randomUUID())

// WatermelonDB reports a server reply it had to work around (a created record it already
// has, an updated one it lacks, an unknown table) as a logged error or warning, not as a
// thrown one. Each test fails on any such message.
const libraryComplaints = []
logger.debug = () => {}
logger.log = () => {}
logger.warn = (...messages) => libraryComplaints.push(messages.map(String).join(' '))
logger.error = (...messages) => libraryComplaints.push(messages.map(String).join(' '))

// --- the client's schema and models ---

const columns = {
  products: [
    { name: 'name', type: 'string' },
    { name: 'sku', type: 'string', isOptional: true },
    { name: 'category_id', type: 'string', isOptional: true },
    { name: 'price', type: 'number' },
    { name: 'cost', type: 'number', isOptional: true },
    { name: 'unit', type: 'string' },
    { name: 'track_stock', type: 'boolean' },
    { name: 'is_active', type: 'boolean' },
    { name: 'version', type: 'number', isOptional: true },
  ],
  categories: [
    { name: 'name', type: 'string' },
    { name: 'sort_order', type: 'number' },
  ],
  customers: [
    { name: 'name', type: 'string' },
    { name: 'phone', type: 'string', isOptional: true },
  ],
  transactions: [
    { name: 'outlet_id', type: 'string' },
    { name: 'device_id', type: 'string' },
    { name: 'receipt_no', type: 'string' },
    // WatermelonDB requires created_at to be a number, and this protocol sends Unix ms.
    { name: 'created_at', type: 'number' },
    { name: 'items_json', type: 'string' },
    { name: 'payments_json', type: 'string' },
    { name: 'discount', type: 'number' },
    { name: 'subtotal', type: 'number', isOptional: true },
    { name: 'tax', type: 'number', isOptional: true },
    { name: 'total', type: 'number', isOptional: true },
    { name: 'change', type: 'number', isOptional: true },
    { name: 'status', type: 'string', isOptional: true },
  ],
  stock_movements: [
    { name: 'product_id', type: 'string' },
    { name: 'outlet_id', type: 'string' },
    { name: 'qty', type: 'number' },
    { name: 'kind', type: 'string' },
    { name: 'ref_id', type: 'string', isOptional: true },
  ],
}

const schema = appSchema({
  version: 1,
  tables: Object.entries(columns).map(([name, list]) => tableSchema({ name, columns: list })),
})

// Plain accessors in place of the @field decorators, which need a Babel build step.
function modelFor(table) {
  const ModelClass = class extends Model {}
  ModelClass.table = table
  for (const { name } of columns[table]) {
    Object.defineProperty(ModelClass.prototype, name, {
      get() {
        return this._getRaw(name)
      },
      set(value) {
        this._setRaw(name, value)
      },
    })
  }
  return ModelClass
}

const modelClasses = Object.keys(columns).map(modelFor)

// --- HTTP ---

async function request(method, path, { token, body } = {}) {
  const headers = { authorization: `Bearer ${token}` }
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
  }
  const response = await fetch(`${BASE_URL}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  const json = text ? JSON.parse(text) : null
  if (!response.ok) {
    throw new Error(`${method} ${path} failed with ${response.status}: ${text}`)
  }
  return json
}

async function login(tenantCode, email, deviceName) {
  return request('POST', '/v1/auth/login', {
    body: { tenant: tenantCode, email, password: PASSWORD, device: { name: deviceName } },
  })
}

// --- a simulated terminal ---

/**
 * Builds one terminal: a WatermelonDB database and synchronize() wired to the server. Every
 * pull and push reply is kept in `pulls` and `pushes` for the checks. `sync()` takes
 * optional hooks that run inside pushChanges.
 */
function terminal(name, session) {
  const adapter = new LokiJSAdapter({
    schema,
    dbName: `${name}-${randomUUID()}`,
    useWebWorker: false,
    useIncrementalIndexedDB: false,
    // No autosave timer, so the test process can end.
    extraLokiOptions: { autosave: false },
  })
  const database = new Database({ adapter, modelClasses })
  const device = {
    name,
    database,
    token: session.access_token,
    deviceId: session.device.id,
    deviceCode: session.device.code,
    pulls: [],
    pushes: [],
  }

  device.pullChanges = async ({ lastPulledAt, schemaVersion, migration }) => {
    const query = new URLSearchParams({
      last_pulled_at: String(lastPulledAt),
      schema_version: String(schemaVersion),
      migration: JSON.stringify(migration),
    })
    const reply = await request('GET', `/v1/sync/watermelon?${query}`, { token: device.token })
    device.pulls.push({ lastPulledAt, reply })
    return reply
  }

  device.postChanges = (changes, lastPulledAt) =>
    request('POST', `/v1/sync/watermelon?last_pulled_at=${lastPulledAt}`, {
      token: device.token,
      body: { changes },
    })

  device.sync = async ({ beforePush, push } = {}) => {
    await synchronize({
      database,
      pullChanges: device.pullChanges,
      pushChanges: async ({ changes, lastPulledAt }) => {
        if (beforePush) {
          await beforePush()
        }
        const reply = await (push || device.postChanges)(changes, lastPulledAt)
        device.pushes.push({ lastPulledAt, changes, reply })
        return reply
      },
    })
  }

  device.find = (table, id) => database.get(table).find(id)
  device.has = async (table, id) => (await database.get(table).query().fetchIds()).includes(id)
  device.write = (work) => database.write(work)
  device.lastPull = () => device.pulls[device.pulls.length - 1].reply
  device.lastPush = () => device.pushes[device.pushes.length - 1].reply
  return device
}

function createProduct(device, fields) {
  return device.write(() =>
    device.database.get('products').create((product) => {
      product.unit = 'pcs'
      product.track_stock = false
      product.is_active = true
      Object.assign(product, fields)
    }),
  )
}

function edit(device, record, fields) {
  return device.write(() => record.update((draft) => Object.assign(draft, fields)))
}

function ids(records) {
  return records.map((record) => record.id)
}

// --- shared state, set up once ---

const shop = {}
let terminalA
let terminalB

before(async () => {
  assert.ok(BASE_URL, 'set KASIR_BASE_URL to the server, for example http://127.0.0.1:8787')
  assert.ok(ADMIN_TOKEN, 'set KASIR_ADMIN_TOKEN to the server admin token')

  shop.code = `wm-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`
  shop.email = `owner@${shop.code}.test`
  const created = await request('POST', '/v1/admin/tenants', {
    token: ADMIN_TOKEN,
    body: {
      code: shop.code,
      name: 'Warung Semangka',
      owner: { email: shop.email, name: 'Bu Sari', password: PASSWORD },
    },
  })
  shop.outletId = created.tenant.default_outlet_id

  terminalA = terminal('kasir-a', await login(shop.code, shop.email, 'Kasir A'))
  terminalB = terminal('kasir-b', await login(shop.code, shop.email, 'Kasir B'))
  // Setting up LokiJS warns that `useIncrementalIndexedDB: false` is deprecated.
  libraryComplaints.length = 0
})

afterEach(() => {
  const complaints = libraryComplaints.splice(0)
  assert.deepEqual(complaints, [], 'WatermelonDB logged errors or warnings during the test')
})

// --- the tests run in order and build on each other ---

test('first pull lists every table', async () => {
  const reply = await terminalA.pullChanges({ lastPulledAt: null, schemaVersion: 1, migration: null })

  assert.equal(reply.timestamp, 1)
  for (const table of ['products', 'categories', 'customers', 'transactions', 'stock_movements']) {
    assert.deepEqual(reply.changes[table], { created: [], updated: [], deleted: [] }, table)
  }
})

test('products and a sale from A reach B', async () => {
  const coffee = await createProduct(terminalA, { name: 'Kopi Susu', price: 15000 })
  const bread = await createProduct(terminalA, { name: 'Roti Bakar', price: 12000, track_stock: true })
  // An edit before the first push stays a create.
  await edit(terminalA, coffee, { price: 18000 })
  const sale = await terminalA.write(() =>
    terminalA.database.get('transactions').create((record) => {
      record.outlet_id = shop.outletId
      record.device_id = terminalA.deviceId
      record.receipt_no = `PUSAT-${terminalA.deviceCode}-0001`
      record.created_at = Date.now()
      record.items_json = JSON.stringify([
        { product_id: coffee.id, qty: 2, unit_price: 18000, discount: 0 },
        { product_id: bread.id, qty: 1, unit_price: 12000, discount: 0 },
      ])
      record.payments_json = JSON.stringify([{ method: 'cash', amount: 50000 }])
      record.discount = 0
      record.subtotal = 48000
      record.tax = 0
      record.total = 48000
    }),
  )
  shop.coffee = coffee.id
  shop.bread = bread.id
  shop.sale = sale.id
  shop.saleCreatedAt = sale.created_at

  await terminalA.sync()

  assert.deepEqual(terminalA.lastPush().experimentalRejectedIds, {})
  assert.equal((await terminalA.find('products', shop.coffee)).syncStatus, 'synced')
  assert.equal((await terminalA.find('transactions', shop.sale)).syncStatus, 'synced')

  await terminalB.sync()

  const pulled = terminalB.lastPull().changes
  assert.deepEqual(ids(pulled.products.created).sort(), [shop.coffee, shop.bread].sort())
  assert.deepEqual(ids(pulled.transactions.created), [shop.sale])
  const coffeeOnB = await terminalB.find('products', shop.coffee)
  assert.equal(coffeeOnB.name, 'Kopi Susu')
  assert.equal(coffeeOnB.price, 18000)
  assert.equal(coffeeOnB.track_stock, false)
  assert.equal((await terminalB.find('products', shop.bread)).track_stock, true)

  const saleOnB = await terminalB.find('transactions', shop.sale)
  assert.equal(saleOnB.created_at, shop.saleCreatedAt)
  assert.equal(saleOnB.total, 48000)
  assert.equal(saleOnB.change, 2000)
  assert.equal(saleOnB.status, 'completed')
  const items = JSON.parse(saleOnB.items_json)
  assert.equal(items.length, 2)
  assert.equal(items[0].product_id, shop.coffee)
  assert.equal(items[0].qty, 2)
  assert.deepEqual(JSON.parse(saleOnB.payments_json)[0].amount, 50000)
})

test('pulled records carry no sync fields', async () => {
  const reply = await terminalB.pullChanges({ lastPulledAt: null, schemaVersion: 1, migration: null })

  const record = reply.changes.products.created.find((product) => product.id === shop.coffee)
  assert.ok(record, 'coffee is in the first-sync pull')
  assert.equal('_status' in record, false)
  assert.equal('_changed' in record, false)
  assert.equal(record.is_active, true)
  assert.equal(typeof record.price, 'number')
  assert.equal(typeof reply.changes.transactions.created[0].items_json, 'string')
})

test('own records come back as updated', async () => {
  await terminalA.sync()

  const pulled = terminalA.lastPull().changes
  assert.deepEqual(pulled.products.created, [])
  assert.deepEqual(ids(pulled.products.updated).sort(), [shop.coffee, shop.bread].sort())
  assert.deepEqual(pulled.transactions.created, [])
  assert.deepEqual(ids(pulled.transactions.updated), [shop.sale])
})

test('sale stock movements and a void sync', async () => {
  // Only the bread line tracks stock, so the sale wrote one movement on the server.
  for (const device of [terminalA, terminalB]) {
    const movements = await device.database.get('stock_movements').query().fetch()
    assert.equal(movements.length, 1, device.name)
    assert.equal(movements[0].kind, 'sale', device.name)
    assert.equal(movements[0].product_id, shop.bread, device.name)
    assert.equal(movements[0].qty, -1, device.name)
  }

  await request('POST', `/v1/transactions/${shop.sale}/void`, {
    token: terminalA.token,
    body: { reason: 'Salah input' },
  })
  await terminalA.sync()
  await terminalB.sync()

  for (const device of [terminalA, terminalB]) {
    const changes = device.lastPull().changes
    assert.deepEqual(ids(changes.transactions.updated), [shop.sale], device.name)
    assert.equal((await device.find('transactions', shop.sale)).status, 'voided', device.name)
    const kinds = (await device.database.get('stock_movements').query().fetch()).map((movement) => movement.kind)
    assert.deepEqual(kinds.sort(), ['sale', 'void'], device.name)
  }
})

test('edits of different fields converge', async () => {
  await edit(terminalB, await terminalB.find('products', shop.coffee), { name: 'Kopi Susu Gula Aren' })
  await edit(terminalA, await terminalA.find('products', shop.coffee), { price: 20000 })

  // A pulls, then B syncs its edit, then A pushes from the version it pulled: the server
  // merges the two edits field by field.
  await terminalA.sync({ beforePush: () => terminalB.sync() })

  const pushed = terminalA.pushes[terminalA.pushes.length - 1].changes.products.updated
  assert.equal(pushed.length, 1)
  assert.equal(pushed[0]._changed, 'price')
  assert.deepEqual(terminalA.lastPush().experimentalRejectedIds, {})

  await terminalA.sync()
  await terminalB.sync()

  for (const device of [terminalA, terminalB]) {
    const coffee = await device.find('products', shop.coffee)
    assert.equal(coffee.name, 'Kopi Susu Gula Aren', device.name)
    assert.equal(coffee.price, 20000, device.name)
    assert.equal(coffee.syncStatus, 'synced', device.name)
  }
  const stored = await request('GET', `/v1/products/${shop.coffee}`, { token: terminalA.token })
  assert.equal(stored.name, 'Kopi Susu Gula Aren')
  assert.equal(stored.price, 20000)
})

test('edits of one field converge', async () => {
  await edit(terminalB, await terminalB.find('products', shop.bread), { price: 13000 })
  await edit(terminalA, await terminalA.find('products', shop.bread), { price: 14000 })

  // B's edit reaches the server first, so A's edit, pushed later, is the newer one.
  await terminalA.sync({ beforePush: () => terminalB.sync() })
  await terminalB.sync()

  for (const device of [terminalA, terminalB]) {
    assert.equal((await device.find('products', shop.bread)).price, 14000, device.name)
  }
})

test('delete on A reaches B', async () => {
  await terminalA.write(async () => (await terminalA.find('products', shop.bread)).markAsDeleted())

  await terminalA.sync()
  assert.deepEqual(terminalA.lastPush().experimentalRejectedIds, {})
  await terminalB.sync()

  assert.deepEqual(terminalB.lastPull().changes.products.deleted, [shop.bread])
  assert.equal(await terminalB.has('products', shop.bread), false)
  assert.equal(await terminalB.has('products', shop.coffee), true)
})

test('retried push returns the same reply', async () => {
  await edit(terminalA, await terminalA.find('products', shop.coffee), { unit: 'gelas' })
  let first
  let second
  let versionAfterFirst

  await terminalA.sync({
    push: async (changes, lastPulledAt) => {
      first = await terminalA.postChanges(changes, lastPulledAt)
      versionAfterFirst = (await request('GET', `/v1/products/${shop.coffee}`, { token: terminalA.token })).version
      second = await terminalA.postChanges(changes, lastPulledAt)
      return second
    },
  })

  assert.deepEqual(second, first)
  const stored = await request('GET', `/v1/products/${shop.coffee}`, { token: terminalA.token })
  assert.equal(stored.unit, 'gelas')
  assert.equal(stored.version, versionAfterFirst)
})

test('push after a lost reply is harmless', async () => {
  const tea = await createProduct(terminalA, { name: 'Teh Manis', price: 5000 })
  const sale = await terminalA.write(() =>
    terminalA.database.get('transactions').create((record) => {
      record.outlet_id = shop.outletId
      record.device_id = terminalA.deviceId
      record.receipt_no = `PUSAT-${terminalA.deviceCode}-0002`
      record.created_at = Date.now()
      record.items_json = JSON.stringify([{ product_id: tea.id, qty: 1, unit_price: 5000, discount: 0 }])
      record.payments_json = JSON.stringify([{ method: 'qris', amount: 5000 }])
      record.discount = 0
    }),
  )

  // The server applies the push, but the reply never reaches the terminal.
  await assert.rejects(
    terminalA.sync({
      push: async (changes, lastPulledAt) => {
        await terminalA.postChanges(changes, lastPulledAt)
        throw new Error('connection reset')
      },
    }),
    /connection reset/,
  )
  assert.equal((await terminalA.find('transactions', sale.id)).syncStatus, 'created')

  // The next sync pulls the records as updated and pushes them again under new mutation ids.
  await terminalA.sync()

  assert.deepEqual(terminalA.lastPush().experimentalRejectedIds, {})
  assert.equal((await terminalA.find('transactions', sale.id)).syncStatus, 'synced')
  assert.equal((await terminalA.find('products', tea.id)).syncStatus, 'synced')
  const sales = await request('GET', '/v1/transactions', { token: terminalA.token })
  assert.equal(sales.items.filter((item) => item.id === sale.id).length, 1)
})

test('bad record is rejected alone', async () => {
  const bad = await createProduct(terminalA, { name: 'Harga Minus', price: -1 })
  const good = await createProduct(terminalA, { name: 'Air Mineral', price: 4000 })

  await terminalA.sync()

  const reply = terminalA.lastPush()
  assert.deepEqual(reply.experimentalRejectedIds, { products: [bad.id] })
  assert.equal(reply.rejected[0].error.code, 'validation_failed')
  assert.equal((await terminalA.find('products', bad.id)).syncStatus, 'created')
  assert.equal((await terminalA.find('products', good.id)).syncStatus, 'synced')

  // Fixed on the device, it goes through on the next sync.
  await edit(terminalA, bad, { price: 1000 })
  await terminalA.sync()
  assert.deepEqual(terminalA.lastPush().experimentalRejectedIds, {})
  assert.equal((await terminalA.find('products', bad.id)).syncStatus, 'synced')
})

test('expired cursor gets a replacement', async () => {
  await terminalB.sync()
  await request('PATCH', '/v1/tenant', {
    token: terminalA.token,
    body: { sync: { tombstone_retention_seconds: 1 } },
  })
  const water = (await terminalA.database.get('products').query().fetch()).find(
    (product) => product.name === 'Air Mineral',
  )
  await terminalA.write(() => water.markAsDeleted())
  await terminalA.sync()

  // B last pulled before the delete. Once the tombstone is purged, B's cursor has expired.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await terminalB.sync()

  const reply = terminalB.lastPull()
  assert.equal(reply.experimentalStrategy, 'replacement')
  assert.equal(await terminalB.has('products', water.id), false)
  assert.equal(await terminalB.has('products', shop.coffee), true)
  assert.equal(await terminalB.has('transactions', shop.sale), true)

  await terminalB.sync()
  assert.equal(terminalB.lastPull().experimentalStrategy, undefined)
})
