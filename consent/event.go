package consent

// EventType is what happened. Consent states use the W3C Data Privacy
// Vocabulary terms (dpv:ConsentRequested, dpv:ConsentGiven,
// dpv:ConsentRefused, dpv:ConsentWithdrawn).
type EventType string

// Event types.
const (
	ParticipantAdded   EventType = "ParticipantAdded"  // a person on the call is registered (and present)
	ParticipantJoined  EventType = "ParticipantJoined" // a registered person who left is back
	ParticipantLeft    EventType = "ParticipantLeft"
	ConsentRequested   EventType = "ConsentRequested" // the notice was shown / sent
	ConsentGiven       EventType = "ConsentGiven"
	ConsentRefused     EventType = "ConsentRefused" // closes the gate for the rest of the session
	ConsentWithdrawn   EventType = "ConsentWithdrawn"
	AgeConfirmed       EventType = "AgeConfirmed" // the person confirmed being at least the minimum age
	RecordingRequested EventType = "RecordingRequested"
	RecordingStarted   EventType = "RecordingStarted" // appended by the session when the gate first opens
	RecordingPaused    EventType = "RecordingPaused"
	RecordingResumed   EventType = "RecordingResumed"
	RecordingStopped   EventType = "RecordingStopped" // final
	Recovered          EventType = "Recovered"        // final; appended by Recover after a crash
	// SegmentSealed binds one sealed segment file of the recording's audio
	// to the record (Segment is set). It is appended after the segment file
	// is durable and before the segment is offered for upload.
	SegmentSealed EventType = "SegmentSealed"
)

// SegmentRef describes one sealed segment (SegmentSealed only). Segments are
// numbered from 1 without gaps; segment n+1 starts where segment n ended.
type SegmentRef struct {
	Index  int    `json:"index"`  // 1-based position in the recording
	Start  int64  `json:"start"`  // stream offset (frames per channel at 48 kHz) of the segment's first admitted frame
	End    int64  `json:"end"`    // stream offset just after its last frame (exclusive)
	SHA256 string `json:"sha256"` // hex SHA-256 of the segment file's ciphertext, as stored and uploaded
	Size   int64  `json:"size"`   // bytes of the ciphertext
}

// Method is how consent (or an age confirmation, or a withdrawal) was expressed.
type Method string

// Methods.
const (
	OnScreen       Method = "on-screen"       // on this device's screen
	Remote         Method = "remote"          // on the participant's own device via a link
	VerbalAttested Method = "verbal-attested" // said aloud; the host attests (AttestedBy)
)

// Principal is the person an event is about (Kantara "PII principal").
type Principal struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	Lang  string `json:"lang"` // language the notice is shown in
}

// Event is one entry of a consent record. Callers of [Session.Apply] fill
// Type and the fields the type needs (marked below); the session fills
// Seq, Time, Offset, Notice, MinAge, Prev and Hash.
type Event struct {
	Seq    int       `json:"seq"`
	Type   EventType `json:"type"`
	Time   string    `json:"time"`   // RFC 3339 UTC with nanoseconds, set by the session
	Offset int64     `json:"offset"` // frames per channel (48 kHz) admitted before this event

	Participant string      `json:"participant,omitempty"` // participant id: all participant and consent events
	Principal   *Principal  `json:"principal,omitempty"`   // ParticipantAdded only
	Method      Method      `json:"method,omitempty"`      // ConsentGiven/Refused/Withdrawn, AgeConfirmed
	AttestedBy  string      `json:"attestedBy,omitempty"`  // participant id of the attesting host, for verbal-attested
	Notice      *NoticeRef  `json:"notice,omitempty"`      // set by the session on ConsentRequested/Given/Refused
	MinAge      int         `json:"minAge,omitempty"`      // set by the session on AgeConfirmed
	Reason      string      `json:"reason,omitempty"`      // optional free text (no personal data), e.g. "host paused"
	Evidence    string      `json:"evidence,omitempty"`    // optional, e.g. hash of a remote consent token
	Segment     *SegmentRef `json:"segment,omitempty"`     // SegmentSealed only

	Prev string `json:"prev"` // hex SHA-256 of the previous event (or of the header for event 0)
	Hash string `json:"hash"` // hex SHA-256 of this event's canonical encoding
}
