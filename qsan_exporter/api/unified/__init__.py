"""The Unified REST API (`/auth/*`, `/rest/v1/*`): `client` talks to the array (its token
lifecycle on the wire in `auth_wire`), `source` fetches each area's answers for the collectors."""
