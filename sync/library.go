package sync

// Library is what the sync client needs of the local library (the vault).
// Implementations must be safe for use by one Client goroutine alongside
// the rest of the app.
type Library interface {
	// Unsynced lists recordings not yet finalised on the server, oldest first,
	// each with its sealed segments so far (a recording in progress included).
	Unsynced() ([]Recording, error)
	// MarkSynced records that the server holds recording id completely.
	MarkSynced(id string) error
	// PendingDeletions lists recordings deleted locally whose server copy
	// must be deleted too.
	PendingDeletions() ([]string, error)
	// DeletionConfirmed records that the server confirmed the deletion of id.
	DeletionConfirmed(id string) error
}

// Recording is one local recording as the sync client sees it.
type Recording struct {
	ID       string
	Record   []byte    // the current signed consent record (JSON)
	Stopped  bool      // Record is final; no more segments will appear
	Segments []Segment // sealed segments, in index order
	// Notices are the exact notice texts stored with the recording, by the
	// hex SHA-256 of each text; uploaded with the record. Empty for
	// recordings made before the texts were stored.
	Notices map[string][]byte
}

// Segment is one sealed (age-encrypted) segment file.
type Segment struct {
	Index  int
	Path   string
	Size   int64
	SHA256 string // hex SHA-256 of the file; computed by the client if empty
}
