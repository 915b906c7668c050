-- 0001_preference_defaults: the preferences every user starts with.
-- Values are JSON. mutable = false means the user cannot override the key (the operator sets
-- it, e.g. the plan); GET /api/preferences lets such defaults win over any user row.
INSERT INTO preference_defaults (key, value, mutable, description) VALUES
    ('theme',    '"system"',      true,  'Colour scheme: system, light or dark'),
    ('language', '"en"',          true,  'Interface language, a BCP 47 tag'),
    ('density',  '"comfortable"', true,  'Layout density: comfortable or compact'),
    ('plan',     '"free"',        false, 'Subscription plan; set by the operator, not the user')
ON CONFLICT (key) DO NOTHING;
