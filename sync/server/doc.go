// Package server is assentd: the organisation's sync server for Assent.
//
// It owns the HTTP API that devices and admins talk to, the tus ingest of
// sealed (age-encrypted) segments, the verification of every consent record,
// the index (a Store: SQLite by default, PostgreSQL for scale-out), the
// object storage of ciphertext, data-subject requests (list, export, erase,
// restrict), retention purge, the audit log, /healthz and /metrics.
//
// What it must never do:
//
//   - hold or ask for a key that decrypts audio: it stores ciphertext only and
//     serves the organisation's public escrow recipient;
//   - accept a recording whose consent record does not verify (hash chain,
//     device signature, coverage) or belongs to another recording or device;
//   - keep personal data in its index or logs: subjects are indexed by a
//     salted SHA-256 of their e-mail address, tokens and codes by SHA-256;
//   - answer bad input with anything but an RFC 9457 problem+json error that
//     says what went wrong and what to do next.
//
// Start one with New(Config) and serve Handler(); cmd/assentd does that.
// docs/server-api.md and docs/openapi.yaml describe the protocol.
package server
