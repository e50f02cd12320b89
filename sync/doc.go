// Package sync is Assent's sync client: it moves sealed recordings from the
// local library to the organisation's assentd server and propagates
// deletions.
//
// It owns an outbox on disk (one small JSON state file per recording in
// flight) and a small tus client of its own (POST create, HEAD, PATCH with
// Upload-Offset). For each recording it registers the consent record,
// uploads every sealed segment as soon as the library lists it — resuming
// an interrupted upload at the offset the server reports, so nothing the
// server has is sent twice — and finalises the recording with the final
// record and every segment's SHA-256 after the recording stopped. Local
// deletions of synced recordings are sent until the server confirms them.
// Failures back off exponentially with jitter; a bandwidth cap is optional;
// Snapshot and Config.OnProgress report progress per recording for the UI.
//
// The library is reached only through the Library interface, so the vault
// (or a test's directory) supplies the recordings.
//
// What it must never do: send anything but sealed ciphertext segments and
// consent records, decrypt anything, talk to any host but the configured
// server, log personal data or tokens, or forget a pending deletion.
package sync
