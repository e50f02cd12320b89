// Package consentpage is assentd's remote consent: a participant on a call
// reads the recording notice on their own phone or laptop, through a link,
// and answers there, while the consent gate stays on the host's device.
//
// It owns three things:
//
//   - the device API (authenticated with the device token, like the rest of
//     /v1): POST /v1/consent-links creates a link for one call (the notice
//     texts with their SHA-256, participant slots, expiry), DELETE
//     /v1/consent-links/{id} closes it when the call ends, and GET
//     /v1/consent-links/{id}/events streams the answers as server-sent
//     events, resumable with Last-Event-ID;
//   - the participant page GET/POST /c/{token}: plain HTML forms, no script,
//     no cookies, no third-party anything, a strict Content-Security-Policy,
//     the notice in the visitor's language, "I agree" / "I do not agree",
//     age confirmation and, after agreeing, "Withdraw — stop recording";
//   - the tokens: 256-bit random, kept only as SHA-256, one per participant
//     slot, answerable once (plus one withdrawal after agreeing), rate
//     limited per client address and per token, dead when the link expires
//     or is closed.
//
// What it must never do:
//
//   - decide about recording: it only relays answers; the device applies them
//     to its consent session and its gate is the only authority;
//   - let a page change anything but its own slot's answer, or show a notice
//     whose text does not match the SHA-256 the device sent;
//   - keep a token in plaintext, log a token, a name or an address, or keep a
//     link's answers after it expired (links live in assentd's database,
//     shared by all replicas: SQLLinks; see docs/remote-consent.md);
//   - load or send anything from or to a third party.
//
// Mount it with Handler.Register on assentd's mux; docs/remote-consent.md
// describes the protocol.
package consentpage
