// Package vault is Assent's encrypted local library of recordings.
//
// It owns, and is the only code that touches, the files under a vault root:
// the device keys' public halves (vault.json), the encrypted index
// (index.age), the deletion tombstones (deletions.json) and one directory
// per recording holding sealed age-encrypted audio segments
// (seg-000001.age …), the encrypted consent record (record.json.age) and
// the encrypted metadata (meta.json.age). docs/vault.md describes every file.
//
// Keys. Each vault has an age X25519 identity (decrypts audio) and an
// Ed25519 signing key (signs consent records). Their secrets live only in
// the OS keyring (see [SecretStore], [OSKeyring]); if the keyring cannot be
// reached, is locked or lacks the key, [Open] fails with a [*KeyringError]
// that says what is missing and how to fix it. There is no fallback: the
// vault never writes a secret key, or audio, in plaintext. [Vault.KeyExport]
// writes the identity in the standard age key format for backups; with it the
// stock `age -d -i key.txt seg-000001.age` decrypts any segment, and
// [RestoreKey] puts it back into a keyring that lost it.
//
// Recording. [Vault.Create] returns a [*SegmentWriter], which implements the
// audio.SegmentSink contract of docs/design.md: WritePage streams complete
// Ogg pages through age.Encrypt into seg-NNNNNN.age.part; Seal closes the
// age file, fsyncs it, renames it to seg-NNNNNN.age and fsyncs the
// directory, then records the segment's ciphertext SHA-256, size and end
// granule in the metadata. Plaintext audio never reaches disk, not even a
// temporary file. A full disk makes WritePage or Seal return an error
// matching [ErrDiskFull]; sealed segments are kept.
//
// Recovery. [Open] finds recordings a crash left in progress, removes their
// unsealed .part file, keeps every sealed segment, marks them recovered and
// lets the caller close their consent record through [Options].Recover. A
// recording another process is still writing (its writer.lock is held) is
// left alone.
//
// Library. [Vault.List], [Vault.Get], [Vault.OpenStream] (the decrypted
// concatenated Ogg Opus stream), [Vault.Export], [Vault.Delete] (with
// deletion tombstones for synced recordings, see
// [Vault.PendingDeletions]), what the sync client needs ([Vault.Unsynced],
// [Vault.Segments], [Vault.MarkSynced], [Vault.SetSyncState]) and
// [Vault.Retention], which never deletes a recording that was not synced.
//
// The vault never logs audio, keys, titles or participants.
package vault
