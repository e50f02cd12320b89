package crashpoint

// The named crash points. Each constant is hit right after the step it
// names is on disk (files written through the vault's atomic write are
// complete: temporary file written, fsynced, renamed, directory fsynced).
const (
	// Creating a recording.
	CreateDir   = "vault.create.dir"   // the recording's directory exists (empty but for writer.lock)
	CreateMeta  = "vault.create.meta"  // its first metadata (no participants' names) is written
	CreateIndex = "vault.create.index" // the index lists it as in progress

	// Each notice text of the call stored (encrypted, atomic) before the
	// first consent record that cites it.
	NoticeStore = "vault.notice.store"

	// Each save of the consent record (every consent event, every seal).
	RecordSave = "vault.record.save"

	// A segment: each write of its .part file, the fsync, the rename to
	// .age, the directory fsync; then the record lists it
	// (RecordSave) and the metadata lists it (MetaWrite).
	SegmentWrite   = "vault.segment.write"
	SegmentFsync   = "vault.segment.fsync"
	SegmentRename  = "vault.segment.rename"
	SegmentDirSync = "vault.segment.dirsync"

	// Each metadata or index update, wherever it happens.
	MetaWrite  = "vault.meta.write"
	IndexWrite = "vault.index.write"

	// Each step of recovering a recording a crash left in progress.
	RecoverParts  = "vault.recover.parts"  // its .part files are removed
	RecoverRecord = "vault.recover.record" // its consent record is closed (SegmentSealed / Recovered appended)
	RecoverMeta   = "vault.recover.meta"   // its metadata says closed and recovered
	RecoverUnlock = "vault.recover.unlock" // its writer.lock is removed
	RecoverRemove = "vault.recover.remove" // an audio-free recording is renamed to <id>.deleting

	// Delete, retention and tombstones.
	DeleteTombstone  = "vault.delete.tombstone"  // the server deletion is queued in deletions.json
	DeleteRename     = "vault.delete.rename"     // the directory is renamed to <id>.deleting
	DeleteIndex      = "vault.delete.index"      // the index no longer lists it
	DeleteRemoved    = "vault.delete.removed"    // its files are gone
	RetentionDeleted = "vault.retention.deleted" // retention removed one local copy
	TombstoneCleared = "vault.tombstone.cleared" // a confirmed server deletion left deletions.json

	// The sync outbox's state file.
	OutboxSave = "sync.outbox.save"
)

// All lists every crash point, in the order of the steps above.
var All = []string{
	CreateDir, CreateMeta, CreateIndex,
	NoticeStore, RecordSave,
	SegmentWrite, SegmentFsync, SegmentRename, SegmentDirSync,
	MetaWrite, IndexWrite,
	RecoverParts, RecoverRecord, RecoverMeta, RecoverUnlock, RecoverRemove,
	DeleteTombstone, DeleteRename, DeleteIndex, DeleteRemoved, RetentionDeleted, TombstoneCleared,
	OutboxSave,
}

// Known reports whether name is one of [All].
func Known(name string) bool {
	for _, p := range All {
		if p == name {
			return true
		}
	}
	return false
}
