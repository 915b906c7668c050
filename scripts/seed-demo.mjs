// seed-demo.mjs — fills a user's dashboard through tessera's own API (never SQL), so the demo
// data goes through the same validation as anything a person types.
//
//   node scripts/seed-demo.mjs BASE_URL TOKEN     (used by scripts/seed-demo.sh)
//   import { seedDemo, DEMO } from './seed-demo.mjs'   (used by the browser tests)
//
// Re-runnable: when the user already has conversations nothing is added.

// Oldest first: each one is created, then given its messages, so the last in this list is
// the most recently updated and heads the dashboard's newest-first list. One is archived.
export const DEMO = {
  preferences: { theme: 'system', language: 'en', density: 'comfortable' },
  conversations: [
    {
      title: 'Welcome to tessera',
      archived: true,
      messages: [
        ['system', 'This conversation was archived to show the Archived tab.'],
        ['user', 'Where did this one go?'],
        ['assistant', 'Archived conversations live under the Archived tab; unarchive brings them back.'],
      ],
    },
    {
      title: 'Weekend trip to Lisbon',
      messages: [
        ['user', 'Three days in Lisbon in spring: what should we not miss?'],
        ['assistant', 'Alfama early in the morning, the tram 28 before the crowds, and a sunset from the Miradouro da Senhora do Monte.'],
        ['user', 'And a day trip?'],
        ['assistant', 'Sintra by train from Rossio: about 40 minutes. Go on a weekday and book the Pena Palace ahead.'],
      ],
    },
    {
      title: 'Sourdough schedule',
      messages: [
        ['user', 'My starter peaks after about 6 hours at 24 °C. When should I mix for a Saturday bake?'],
        ['assistant', 'Feed it Friday at 8 am, mix the dough around 2 pm, bulk until 7 pm, shape, then retard overnight in the fridge. Bake straight from the fridge on Saturday morning.'],
      ],
    },
    {
      title: 'Release checklist for 0.2',
      messages: [
        ['user', 'What is left before tagging 0.2?'],
        ['assistant', 'Three things:\n1. migrations reviewed on a copy of production\n2. the page-load budget checked with make bench-page\n3. CHANGELOG written'],
        ['user', 'The benchmark passed this morning.'],
        ['assistant', 'Then it is the CHANGELOG and a review of 0004_list_order_indexes.sql.'],
      ],
    },
    {
      title: 'Reading list',
      messages: [
        ['user', 'Books about how things are built?'],
        ['assistant', '"The Design of Everyday Things", "Structures: Or Why Things Don\'t Fall Down", and "The Soul of a New Machine".'],
      ],
    },
    {
      title: 'Garden plan',
      messages: [
        ['user', 'Which vegetables can go in the shady corner?'],
        ['assistant', 'Lettuce, spinach, chard and most herbs such as parsley and mint cope with 3–4 hours of sun.'],
        ['user', 'Mint spreads everywhere, though.'],
        ['assistant', 'Plant it in a sunken pot with the rim just above the soil; the roots stay put.'],
      ],
    },
  ],
};

// A small API client with a bearer token: no cookie, so no CSRF Origin check applies.
export function client(base, token) {
  return async function call(method, path, body) {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: 'Bearer ' + token, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

// Returns { created: n } — 0 when the user had data already.
export async function seedDemo(base, token, data = DEMO) {
  const call = client(base, token);
  for (const [key, value] of Object.entries(data.preferences)) {
    await call('PUT', '/api/preferences/' + key, { value });
  }
  const [active, archived] = await Promise.all([
    call('GET', '/api/conversations?archived=false&limit=1'),
    call('GET', '/api/conversations?archived=true&limit=1'),
  ]);
  if (active.items.length || archived.items.length) return { created: 0 };
  for (const conv of data.conversations) {
    const c = await call('POST', '/api/conversations', { title: conv.title });
    for (const [role, content] of conv.messages) {
      await call('POST', `/api/conversations/${c.id}/messages`, { role, content });
    }
    if (conv.archived) await call('PATCH', '/api/conversations/' + c.id, { archived: true });
  }
  return { created: data.conversations.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [base, token] = process.argv.slice(2);
  if (!base || !token) {
    console.error('usage: node scripts/seed-demo.mjs BASE_URL TOKEN');
    process.exit(2);
  }
  seedDemo(base, token).then(
    ({ created }) => console.log(created ? `seed-demo: ${created} conversations created` : 'seed-demo: demo data already there'),
    (err) => { console.error('seed-demo:', err.message); process.exit(1); },
  );
}
